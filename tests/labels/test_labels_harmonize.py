"""harmonize_labels on every source, with hand-checked label matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxrinit.labels import LabelDataError, Ontology, harmonize_labels, ontology_from_dict
from cxrinit.sources import read_source

from labelsdata import N, assert_matrix, manifest

# -- CheXpert / MIMIC ---------------------------------------------------------------------------

CX = ["cardiomegaly", "pleural_effusion", "no_finding", "edema"]


def _chexpert_rows() -> pd.DataFrame:
    base = {"label:Lung Opacity": N, "label:Lung Lesion": N, "label:Pneumonia": N}
    return manifest("chexpert", [
        {"image_id": "c1", "view_native": "Frontal|AP", "view": "AP", **base, "label:Cardiomegaly": 1.0,
         "label:Pleural Effusion": -1.0, "label:No Finding": N, "label:Edema": 0.0},
        {"image_id": "c2", "view_native": "Frontal|PA", **base, "label:Cardiomegaly": -1.0,
         "label:Pleural Effusion": N, "label:No Finding": N, "label:Edema": 1.0},
        {"image_id": "c3", "view_native": "Frontal", "view": "OTHER", **base, "label:Cardiomegaly": 0.0,
         "label:Pleural Effusion": 0.0, "label:No Finding": 1.0, "label:Edema": N},
    ])


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"uncertain": "zeros", "blank": "negative"}, {"c1": [1, 0, 0, 0], "c2": [0, 0, 0, 1], "c3": [0, 0, 1, 0]}),
    ({"uncertain": "ones", "blank": "negative"}, {"c1": [1, 1, 0, 0], "c2": [1, 0, 0, 1], "c3": [0, 0, 1, 0]}),
    ({"uncertain": "ignore", "blank": "ignore"}, {"c1": [1, N, N, 0], "c2": [N, N, N, 1], "c3": [0, 0, 1, N]}),
    ({"uncertain": "zeros", "blank": "ignore"}, {"c1": [1, 0, N, 0], "c2": [0, N, N, 1], "c3": [0, 0, 1, N]}),
])
def test_chexpert_uncertain_and_blank_policies(ontology: Ontology, overrides: dict, expected: dict) -> None:
    result = harmonize_labels(_chexpert_rows(), ontology, "chexpert", label_set=CX,
                              overrides={**overrides, "drop_uncertain": []})
    assert_matrix(result.labels, CX, expected)
    assert result.counts == {"images_in": 3, "images_out": 3, "dropped/view_filter": 0, "dropped/drop_uncertain": 0}


def test_chexpert_drop_rule_counts_reason_and_detail(ontology: Ontology) -> None:
    result = harmonize_labels(_chexpert_rows(), ontology, "chexpert", label_set=CX)
    assert_matrix(result.labels, CX, {"c1": [1, 0, 0, 0], "c3": [0, 0, 1, 0]})
    assert result.dropped.to_dict("records") == [
        {"image_id": "c2", "reason": "drop_uncertain", "detail": "uncertain (-1) in Cardiomegaly"}]
    assert result.counts["dropped/drop_uncertain"] == 1


def _write_chexpert(root: Path) -> None:
    header = ("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
              "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,"
              "Fracture,Support Devices")
    top = root / "CheXpert-v1.0-small"
    top.mkdir(parents=True)
    p = "CheXpert-v1.0-small/train/"
    #                                              NF  EC  Ca  LO  LL  Ed  Co  Pn  At  Px  PE  PO  Fr  SD
    (top / "train.csv").write_text("\n".join([header,
        f"{p}patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,,,1.0,,,,,,,,,,,1.0",
        f"{p}patient00001/study1/view2_lateral.jpg,Female,68,Lateral,,,,1.0,,,,,,,,,,,1.0",
        f"{p}patient00002/study1/view1_frontal.jpg,Male,87,Frontal,PA,,,,,,-1.0,,,,,,,,",
        f"{p}patient00003/study1/view1_frontal.jpg,Male,40,Frontal,,,-1.0,0.0,,,,1.0,,-1.0,,-1.0,,,",
        f"{p}patient00004/study2/view1_frontal.jpg,Female,33,Frontal,LL,,,,,,,,,,1.0,,,-1.0,",
        f"{p}patient00005/study1/view1_lateral.jpg,Male,71,Lateral,,,,,-1.0,,,,,,,,,,",
        f"{p}patient00006/study1/view1_frontal.jpg,Female,55,Frontal,PA,,,,-1.0,,,,,,,1.0,,,",
        f"{p}patient00007/study1/view1_frontal.jpg,Female,59,Frontal,AP,,,,,-1.0,,,-1.0,,,,,,",
    ]) + "\n")
    (top / "valid.csv").write_text("\n".join([header,
        "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,1.0,0.0,0.0,0.0,0.0,"
        "0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0",
    ]) + "\n")


def test_paper_preset_on_chexpert_train_csv_keeps_exactly_the_certain_frontal_images(
        ontology: Ontology, tmp_path: Path) -> None:
    _write_chexpert(tmp_path)
    table = read_source("chexpert", tmp_path)
    result = harmonize_labels(table.manifest, ontology, "chexpert", preset="paper")
    # Frontal, and no -1 in Cardiomegaly / Lung Opacity / Lung Lesion / Pneumonia / Edema. patient00003 keeps
    # its -1 in Enlarged Cardiomediastinum, Atelectasis and Pleural Effusion (not among the five) -> 0.
    findings = ["cardiomegaly", "pleural_effusion", "pneumonia", "atelectasis", "no_finding", "consolidation",
                "pneumothorax", "lung_opacity", "lung_lesion", "fracture"]
    assert_matrix(result.labels, findings, {
        "train/patient00001/study1/view1_frontal": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "train/patient00003/study1/view1_frontal": [0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        "train/patient00004/study2/view1_frontal": [0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "valid/patient64541/study1/view1_frontal": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    })
    assert dict(zip(result.dropped["image_id"], result.dropped["reason"])) == {
        "train/patient00001/study1/view2_lateral": "view_filter",
        "train/patient00005/study1/view1_lateral": "view_filter",  # lateral first, though also uncertain
        "train/patient00002/study1/view1_frontal": "drop_uncertain",
        "train/patient00006/study1/view1_frontal": "drop_uncertain",
        "train/patient00007/study1/view1_frontal": "drop_uncertain",
    }
    assert result.counts == {"images_in": 9, "images_out": 4, "dropped/view_filter": 2, "dropped/drop_uncertain": 3}
    detail = result.dropped.set_index("image_id")["detail"]
    assert detail["train/patient00007/study1/view1_frontal"] == "uncertain (-1) in Lung Lesion; Pneumonia"


def test_mimic_views_and_its_own_drop_classes(ontology: Ontology) -> None:
    labels = {f"label:{n}": 0.0 for n in ("Enlarged Cardiomediastinum", "Consolidation", "Pleural Effusion",
                                          "Pneumothorax", "Atelectasis", "Cardiomegaly")}
    m = manifest("mimic", [
        {"image_id": "m1", "view": "PA", **labels, "label:Cardiomegaly": -1.0},
        {"image_id": "m2", "view": "AP", **labels, "label:Atelectasis": -1.0},
        {"image_id": "m3", "view": "LATERAL", **labels},
        {"image_id": "m4", "view": "OTHER", **labels, "label:Pneumothorax": 1.0},
        {"image_id": "m5", "view": "AP", **labels, "label:Pleural Effusion": 1.0},
    ])
    result = harmonize_labels(m, ontology, "mimic", label_set=["cardiomegaly", "pleural_effusion", "atelectasis"])
    assert_matrix(result.labels, ["cardiomegaly", "pleural_effusion", "atelectasis"],
                  {"m1": [0, 0, 0], "m5": [0, 1, 0]})  # Cardiomegaly -1 is not a MIMIC drop class
    assert result.dropped["reason"].tolist() == ["view_filter", "view_filter", "drop_uncertain"]


# -- VinDr --------------------------------------------------------------------------------------

VD = ["cardiomegaly", "nodule_mass", "fracture", "no_finding"]


def _vindr() -> pd.DataFrame:
    def row(image_id, split, n, card, nm, clav, rib, nf):
        return {"image_id": image_id, "official_split": split, "n_readers": n, "label_consensus": split == "test",
                "label:Cardiomegaly": card, "label:Nodule/Mass": nm, "label:Clavicle fracture": clav,
                "label:Rib fracture": rib, "label:No finding": nf}
    return manifest("vindr", [row("v1", "train", 3, 2, 1, 0, 3, 0), row("v2", "train", 3, 1, 3, 1, 1, 0),
                              row("v3", "train", 3, 0, 0, 0, 0, 3), row("t1", "test", 1, 1, 0, 0, 0, 0),
                              row("t2", "test", 1, 0, 0, 0, 0, 1)])


@pytest.mark.parametrize(("readers", "expected"), [
    ("majority", {"v1": [1, 0, 1, 0], "v2": [0, 1, 0, 0], "v3": [0, 0, 0, 1], "t1": [1, 0, 0, 0], "t2": [0, 0, 0, 1]}),
    ("any", {"v1": [1, 1, 1, 0], "v2": [1, 1, 1, 0], "v3": [0, 0, 0, 1], "t1": [1, 0, 0, 0], "t2": [0, 0, 0, 1]}),
    ("all", {"v1": [0, 0, 1, 0], "v2": [0, 1, 0, 0], "v3": [0, 0, 0, 1], "t1": [1, 0, 0, 0], "t2": [0, 0, 0, 1]}),
])
def test_vindr_reader_rules_and_test_consensus(ontology: Ontology, readers: str, expected: dict) -> None:
    result = harmonize_labels(_vindr(), ontology, "vindr", label_set=VD, overrides={"readers": readers})
    assert_matrix(result.labels, VD, expected)


def test_vindr_votes_above_readers_fail(ontology: Ontology) -> None:
    m = _vindr()
    m.loc[3, "label:Cardiomegaly"] = 2  # a consensus row counts one reader
    with pytest.raises(LabelDataError, match=r"column 'label:Cardiomegaly', row 3 \(image_id 't1', file 't1.png'\): value 2"):
        harmonize_labels(m, ontology, "vindr", label_set=VD)


def test_an_unknown_vote_masks_the_label_never_negates_it(ontology: Ontology) -> None:
    m = _vindr()
    m.loc[0, "label:Cardiomegaly"] = N   # v1: a reader's cell missing
    m.loc[4, "label:No finding"] = N     # t2: the consensus cell missing
    result = harmonize_labels(m, ontology, "vindr", label_set=VD)
    labels = result.labels.set_index("image_id")
    assert np.isnan(labels.at["v1", "cardiomegaly"]) and np.isnan(labels.at["t2", "no_finding"])
    assert labels.at["v2", "cardiomegaly"] == 0 and labels.at["v1", "fracture"] == 1


def test_missing_native_column_is_named(ontology: Ontology) -> None:
    with pytest.raises(LabelDataError, match=r"vindr manifest: column 'label:Pleural effusion' is missing "
                                             r"\(native label feeding 'pleural_effusion'\)"):
        harmonize_labels(_vindr(), ontology, "vindr")


# -- NIH and PadChest (terms) -------------------------------------------------------------------

NIH = ["cardiomegaly", "pleural_effusion", "nodule", "mass", "nodule_mass", "pleural_thickening", "hernia",
       "no_finding", "fracture"]


def _nih() -> pd.DataFrame:
    terms = ["Cardiomegaly|Effusion", "No Finding", "Nodule|Infiltration", "Mass", "Pleural_Thickening|Hernia", pd.NA]
    m = manifest("nih", [{"image_id": f"n{i + 1}"} for i in range(len(terms))])
    m["terms"] = pd.Series(terms, dtype="str")
    return m


NIH_EXPECTED = {"n1": [1, 1, 0, 0, 0, 0, 0, 0, N], "n2": [0, 0, 0, 0, 0, 0, 0, 1, N],
                "n3": [0, 0, 1, 0, 1, 0, 0, 0, N], "n4": [0, 0, 0, 1, 1, 0, 0, 0, N],
                "n5": [0, 0, 0, 0, 0, 1, 1, 0, N]}


@pytest.mark.parametrize("preset", ["default", "paper"])
def test_nih_terms_with_synonyms_and_union(ontology: Ontology, preset: str) -> None:
    result = harmonize_labels(_nih(), ontology, "nih", preset=preset, label_set=NIH)
    assert_matrix(result.labels, NIH, NIH_EXPECTED)  # fracture: NIH does not annotate it -> NaN, never 0
    assert result.unannotated == ("fracture",)
    assert result.dropped.to_dict("records") == [
        {"image_id": "n6", "reason": "missing_terms", "detail": "no terms (label cell missing or empty)"}]


def test_missing_terms_ignore_masks_the_row(ontology: Ontology) -> None:
    result = harmonize_labels(_nih(), ontology, "nih", label_set=NIH, overrides={"missing_terms": "ignore"})
    assert_matrix(result.labels, NIH, {**NIH_EXPECTED, "n6": [N] * 9})


PC = ["emphysema", "nodule_mass", "hernia", "atelectasis", "no_finding", "copd", "infiltration", "pleural_effusion"]


def _padchest() -> pd.DataFrame:
    rows = [("p1", "PA", "subcutaneous emphysema|soft tissue mass"), ("p2", "PA", "emphysema|nodule"),
            ("p3", "AP_horizontal", "hiatal hernia|lobar atelectasis"), ("p4", "AP", "normal"),
            ("p5", "L", "COPD signs|pleural effusion"), ("p6", "PA", pd.NA),
            ("p7", "COSTAL", "pulmonary mass|infiltrates"),
            ("p8", "PA", "diaphragmatic hernia|laminar atelectasis|mediastinal mass"),
            ("p9", "PA", "COPD signs|loculated pleural effusion"), ("p10", "AP", "infiltrates"), ("p11", "PA", "")]
    m = manifest("padchest", [{"image_id": i, "view_native": v} for i, v, _ in rows])
    m["terms"] = pd.Series([t for _, _, t in rows], dtype="str")
    return m


def test_padchest_exact_terms(ontology: Ontology) -> None:
    result = harmonize_labels(_padchest(), ontology, "padchest", label_set=PC)
    assert_matrix(result.labels, PC, {
        "p1": [0, 0, 0, 0, 0, 0, 0, 0], "p2": [1, 1, 0, 0, 0, 0, 0, 0], "p3": [0, 0, 1, 1, 0, 0, 0, 0],
        "p4": [0, 0, 0, 0, 1, 0, 0, 0], "p8": [0, 0, 0, 1, 0, 0, 0, 0], "p9": [0, 0, 0, 0, 0, 1, 0, 1],
        "p10": [0, 0, 0, 0, 0, 0, 1, 0]})
    assert dict(zip(result.dropped["image_id"], result.dropped["reason"])) == {
        "p5": "view_filter", "p7": "view_filter", "p6": "missing_terms", "p11": "missing_terms"}


def test_padchest_study_substring_matching(ontology: Ontology) -> None:
    result = harmonize_labels(_padchest(), ontology, "padchest", preset="paper", label_set=PC)
    assert_matrix(result.labels, PC, {
        # the study's substring tests find nothing in a missing or empty cell (p6, p11): kept, every finding 0
        "p1": [1, 1, 0, 0, 0, 0, 0, 0], "p2": [1, 1, 0, 0, 0, 0, 0, 0], "p3": [0, 0, 1, 1, 0, 0, 0, 0],
        "p4": [0, 0, 0, 0, 1, 0, 0, 0], "p6": [0, 0, 0, 0, 0, 0, 0, 0], "p8": [0, 1, 1, 1, 0, 0, 0, 0],
        "p9": [0, 0, 0, 0, 0, 1, 0, 1], "p10": [0, 0, 0, 0, 0, 0, 1, 0], "p11": [0, 0, 0, 0, 0, 0, 0, 0]})
    assert dict(zip(result.dropped["image_id"], result.dropped["reason"])) == {"p5": "view_filter", "p7": "view_filter"}


# -- UKA (grades) -------------------------------------------------------------------------------

UKA = ["cardiomegaly", "congestion", "pleural_effusion", "pleural_effusion_right", "pleural_effusion_left", "pneumonia",
       "atelectasis", "atelectasis_left", "no_finding", "consolidation"]


def _uka() -> pd.DataFrame:
    names = ["cardiomegaly", "congestion", "pleural_effusion_right", "pleural_effusion_left",
             "pneumonic_infiltrates_right", "pneumonic_infiltrates_left", "atelectasis_right", "atelectasis_left",
             "healthy"]
    grades = {"u1": [3, 2, 5, 1, 0, 2, 4, 0, 0], "u2": [5, 0, 0, 0, 3, 0, 1, 1, 0], "u3": [1, 1, 1, 2, 1, 1, 2, 2, 1]}
    return manifest("uka", [{"image_id": i, "view": "AP", **{f"label:{n}": g for n, g in zip(names, gs)}}
                            for i, gs in grades.items()])


def test_uka_default_threshold_with_sides_merged(ontology: Ontology) -> None:
    result = harmonize_labels(_uka(), ontology, "uka", label_set=UKA)
    assert_matrix(result.labels, UKA, {
        "u1": [1, 0, 1, 1, 0, N, 1, N, 0, N],
        "u2": [1, N, N, N, N, 1, 0, 0, 0, N],
        "u3": [0, 0, 0, 0, 0, 0, 0, 0, 1, N]})


def test_uka_paper_rule(ontology: Ontology) -> None:
    result = harmonize_labels(_uka(), ontology, "uka", preset="paper", label_set=UKA)
    assert_matrix(result.labels, UKA, {
        "u1": [1, 0, 0, 0, 0, 0, 1, 0, 0, N],
        "u2": [0, 0, 0, 0, 0, 1, 0, 0, 0, N],
        "u3": [0, 0, 0, 0, 0, 0, 0, 0, 1, N]})


def test_uka_common_set_masks_what_uka_does_not_grade(ontology: Ontology) -> None:
    result = harmonize_labels(_uka(), ontology, "uka", label_set="common")
    assert result.unannotated == ("consolidation", "pneumothorax")
    assert result.labels[["consolidation", "pneumothorax"]].isna().all().all()


def test_uka_a_missing_grade_is_masked_not_ungraded(ontology: Ontology) -> None:
    m = _uka()
    m.loc[2, "label:cardiomegaly"] = N
    for preset in ("default", "paper"):  # the paper preset makes ungraded (0) negative: a missing grade stays masked
        labels = harmonize_labels(m, ontology, "uka", preset=preset, label_set=UKA).labels.set_index("image_id")
        assert np.isnan(labels.at["u3", "cardiomegaly"])


def test_uka_bad_grade_names_row_and_column(ontology: Ontology) -> None:
    m = _uka()
    m.loc[2, "label:congestion"] = 7
    with pytest.raises(LabelDataError, match=r"uka manifest, column 'label:congestion', row 2 \(image_id 'u3', file 'u3.png'\): "
                                             r"value 7 is not an integer in 0\.\.5"):
        harmonize_labels(m, ontology, "uka")


# -- kind binary (a user's folder data) and generic errors --------------------------------------

def test_binary_kind_from_a_user_ontology() -> None:
    raw = {
        "findings": {"cardiomegaly": "x", "pneumothorax": "y"},
        "sources": {"folder": {"kind": "binary", "findings": {"cardiomegaly": ["cm"], "pneumothorax": ["ptx"]}}},
        "label_sets": {"study": ["cardiomegaly", "pneumothorax"]},
        "policies": {"folder": {"views": None, "views_native": None, "blank": "ignore"}},
        "splits": {"folder": {"use_official": False, "test_fraction": 0.2, "val_fraction": 0.1}},
    }
    onto = ontology_from_dict(raw, origin="user.yml")
    m = manifest("folder", [{"image_id": "a", "label:cm": 1.0, "label:ptx": N},
                            {"image_id": "b", "label:cm": 0.0, "label:ptx": 1.0}])
    result = harmonize_labels(m, onto, "folder")
    assert_matrix(result.labels, ["cardiomegaly", "pneumothorax"], {"a": [1, N], "b": [0, 1]})
    m.loc[1, "label:cm"] = 2.0
    with pytest.raises(LabelDataError, match=r"column 'label:cm', row 1 \(image_id 'b', file 'b.png'\): value 2\.0 is not one of.*fix the metadata column 'cm'"):
        harmonize_labels(m, onto, "folder")
    # a feed naming a column the CSV does not have (a typo in labels.yml): the closest native label is named
    typo = ontology_from_dict({**raw, "sources": {"folder": {"kind": "binary", "findings": {
        "cardiomegaly": ["cm"], "pneumothorax": ["ptxx"]}}}}, origin="user.yml")
    with pytest.raises(LabelDataError, match=r"column 'label:ptxx' is missing .*\(did you mean 'ptx'\?\); fix the "
                                             r"feed in labels.yml \(sources.folder\).*native labels: cm, ptx"):
        harmonize_labels(m.assign(**{"label:cm": [1.0, 0.0]}), typo, "folder")


def test_duplicate_image_ids_fail(ontology: Ontology) -> None:
    m = _uka()
    m.loc[1, "image_id"] = "u1"
    with pytest.raises(LabelDataError, match=r"column 'image_id', row 1 \(image_id 'u1', file 'u2.png'\).*duplicate"):
        harmonize_labels(m, ontology, "uka")


def test_result_types(ontology: Ontology) -> None:
    result = harmonize_labels(_uka(), ontology, "uka")
    assert result.labels.dtypes.drop("image_id").eq(np.float64).all()
    assert result.policy["grades"] == "threshold"
    assert result.findings == tuple(ontology.label_set("study", "uka"))
