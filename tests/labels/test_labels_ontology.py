"""labels.yml: the shipped file is valid and complete; every kind of mistake names its key path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from cxrinit.labels import Ontology, OntologyError, load_ontology, ontology_from_dict

from conftest import LABELS_YML

STUDY_SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(LABELS_YML.read_text())["labels"]


def test_shipped_sets_have_the_study_sizes(ontology: Ontology) -> None:
    study = {s: len(ontology.label_set("study", s)) for s in STUDY_SOURCES}
    assert study == {"vindr": 11, "nih": 14, "chexpert": 10, "mimic": 10, "uka": 9, "padchest": 17}
    shared = {s: len(ontology.label_set("mimic_shared", s)) for s in STUDY_SOURCES if s != "mimic"}
    assert shared == {"vindr": 8, "nih": 7, "chexpert": 10, "uka": 5, "padchest": 7}
    # The MIMIC model for a target is trained on the target's shared labels, which MIMIC must feed.
    mimic = ontology.source("mimic")
    for target in shared:
        assert set(ontology.label_set(f"mimic_shared/{target}", "mimic")) <= set(mimic.findings)
    assert ontology.label_set("common", "uka")[:5] == ["no_finding", "cardiomegaly", "pleural_effusion", "pneumonia",
                                                        "atelectasis"]


def test_study_sets_are_fed_by_their_source(ontology: Ontology) -> None:
    for source in STUDY_SOURCES:
        assert set(ontology.label_set("study", source)) <= set(ontology.source(source).findings), source


def test_synonyms_and_compounds(ontology: Ontology) -> None:
    assert ontology.source("nih").findings["pleural_effusion"].natives == ("Effusion",)
    assert ontology.source("vindr").findings["pleural_effusion"].natives == ("Pleural effusion",)
    assert ontology.source("padchest").findings["no_finding"].natives == ("normal",)
    assert ontology.source("nih").findings["nodule_mass"].natives == ("Nodule", "Mass")
    assert ontology.source("uka").findings["pleural_effusion"].natives == ("pleural_effusion_right",
                                                                           "pleural_effusion_left")
    assert ontology.source("padchest").findings["nodule_mass"].substrings == ("nodule", "mass")


def test_paper_preset_differs_only_where_documented(ontology: Ontology) -> None:
    diffs = {}
    for source in STUDY_SOURCES:
        default, paper = ontology.policy(source), ontology.policy(source, "paper")
        diffs.update({f"{source}.{k}": (default[k], paper[k]) for k in default if default[k] != paper[k]})
    assert diffs == {"nih.matching": ("exact", "substring"), "padchest.matching": ("exact", "substring"),
                     "padchest.missing_terms": ("drop", "negative"),
                     "uka.grades": ("threshold", "study"), "uka.ungraded": ("ignore", "negative")}
    for source in STUDY_SOURCES:
        assert ontology.split_policy(source, "paper")["val_fraction"] == 0.0
        assert ontology.split_policy(source)["val_fraction"] == 0.1
    assert {s for s in STUDY_SOURCES if ontology.split_policy(s)["use_official"]} == {"vindr", "nih", "uka"}
    # every doc'd deviation is named in docs/labels.md
    doc = (LABELS_YML.parents[2] / "docs" / "labels.md").read_text()
    for key in diffs:
        assert f"`{key}`" in doc, key


def test_overrides_win_and_are_validated(ontology: Ontology) -> None:
    assert ontology.policy("chexpert", "paper", {"uncertain": "ones"})["uncertain"] == "ones"
    with pytest.raises(OntologyError, match=r"overrides\[chexpert\]\.uncertain: unknown value 'maybe'"):
        ontology.policy("chexpert", overrides={"uncertain": "maybe"})
    with pytest.raises(OntologyError, match=r"overrides\[vindr\]\.uncertain: unknown option"):
        ontology.policy("vindr", overrides={"uncertain": "ones"})


def test_unknown_names_at_use(ontology: Ontology) -> None:
    with pytest.raises(OntologyError, match=r"sources\.chexpret: unknown source"):
        ontology.policy("chexpret")
    with pytest.raises(OntologyError, match=r"presets\.papper: unknown preset"):
        ontology.policy("nih", "papper")
    with pytest.raises(OntologyError, match=r"label_sets\.studdy: unknown label set"):
        ontology.label_set("studdy", "nih")
    with pytest.raises(OntologyError, match=r"unknown finding\(s\) \['cardiomegally'\]"):
        ontology.label_set(["cardiomegally"], "nih")
    assert ontology.label_set(["fracture"], "nih") == ["fracture"]


def _broken(raw: dict, edit) -> dict:
    data = copy.deepcopy(raw)
    edit(data)
    return data


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(extra=1), r"extra: unknown top-level key"),
    (lambda d: d["sources"]["nih"]["findings"].update(cardiomegally=["Cardiomegaly"]),
     r"sources\.nih\.findings\.cardiomegally: unknown finding \(did you mean `cardiomegaly`\?\)"),
    (lambda d: d["sources"]["nih"].update(kind="tags"), r"sources\.nih\.kind: unknown kind 'tags'"),
    (lambda d: d["sources"]["nih"]["findings"].update(hernia=[]), r"sources\.nih\.findings\.hernia: expected a non-empty"),
    (lambda d: d["sources"]["vindr"]["findings"].update(hernia={"terms": ["x"]}),
     r"sources\.vindr\.findings\.hernia: terms/substrings mappings are for kind terms only"),
    (lambda d: d["label_sets"]["study"].update(vinder=["cardiomegaly"]), r"label_sets\.study\.vinder: unknown source"),
    (lambda d: d["label_sets"]["study"]["nih"].append("hernie"), r"label_sets\.study\.nih\[14\]: unknown finding .hernie. \(did you mean `hernia`\?\)"),
    (lambda d: d["label_sets"].update(common=["cardiomegaly", "cardiomegaly"]), r"label_sets\.common: a finding is listed twice"),
    (lambda d: d["policies"]["chexpert"].update(uncertain="half"), r"policies\.chexpert\.uncertain: unknown value 'half'"),
    (lambda d: d["policies"]["chexpert"].pop("blank"), r"policies\.chexpert: missing option\(s\) blank"),
    (lambda d: d["policies"]["chexpert"].update(drop_uncertain=["Cardiomegally"]),
     r"policies\.chexpert\.drop_uncertain: native label\(s\) \['Cardiomegally'\]"),
    (lambda d: d["policies"]["uka"].update(threshold=7), r"policies\.uka\.threshold: expected an integer grade"),
    (lambda d: d["policies"]["mimic"].update(views=["PA", "Lateral"]), r"policies\.mimic\.views: unknown canonical view"),
    (lambda d: d["policies"]["vindr"].update(readers="most"), r"policies\.vindr\.readers: unknown value 'most'"),
    (lambda d: d["policies"].pop("nih"), r"policies\.nih: missing policy"),
    (lambda d: d["splits"]["nih"].update(test_fraction=1.5), r"splits\.nih\.test_fraction: expected a fraction"),
    (lambda d: d["splits"]["nih"].update(use_official="yes"), r"splits\.nih\.use_official: expected true or false"),
    (lambda d: d["presets"]["paper"]["policies"].update(nhi={"matching": "exact"}),
     r"presets\.paper\.policies\.nhi: unknown source"),
    (lambda d: d["presets"]["paper"]["policies"]["nih"].update(matching="fuzzy"),
     r"presets\.paper\.policies\.nih\.matching: unknown value 'fuzzy'"),
    (lambda d: d["presets"]["paper"].update(views={}), r"presets\.paper\.views: unknown key"),
])
def test_validation_names_the_key_path(raw: dict, edit, message: str) -> None:
    with pytest.raises(OntologyError, match=message):
        ontology_from_dict(_broken(raw, edit))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(OntologyError, match="not found"):
        load_ontology(tmp_path / "nope.yml")
    bad = tmp_path / "labels.yml"
    bad.write_text("findings: [unclosed\n")
    with pytest.raises(OntologyError, match="not valid YAML"):
        load_ontology(bad)
