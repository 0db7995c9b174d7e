"""Reading + harmonizing + splitting all six datasets at the study's sizes (805,603 images), no pixels.

Synthesizes each dataset's metadata in its native format and file names (with realistic label
prevalences, view mixes, repeated PadChest label strings and their quirks) into a temp dir, then,
in a fresh child process so that the memory figure is not inflated by the synthesis, runs per
source: ``read_source`` -> ``harmonize_labels`` (default preset, study label set) ->
``make_splits`` (labels.yml split settings) -> ``label_report``. Prints wall time per stage and
source, the total (synthesis reported separately) and the peak RSS of the child.

Target (2-core machine): under 60 s and under 4 GB for the whole run. Usage:

    PYTHONPATH=src python benchmarks/scale.py [--scale 1.0] [--keep DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: Images per dataset as the study used them (STUDY.md), 805,603 in all.
SIZES = {"vindr": 18_000, "nih": 112_120, "chexpert": 157_676, "mimic": 213_921, "uka": 193_361, "padchest": 110_525}
CHEXPERT_LABELS = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                   "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                   "Fracture", "Support Devices")
CHEXPERT_PREVALENCE = (0.09, 0.05, 0.12, 0.47, 0.04, 0.24, 0.07, 0.03, 0.15, 0.09, 0.39, 0.02, 0.04, 0.52)
VINDR_LABELS = ("Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture",
                "Consolidation", "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity",
                "Lung cavity", "Lung cyst", "Mediastinal shift", "Nodule/Mass", "Pleural effusion",
                "Pleural thickening", "Pneumothorax", "Pulmonary fibrosis", "Rib fracture", "Other lesion", "COPD",
                "Lung tumor", "Pneumonia", "Tuberculosis", "Other diseases", "No finding")
NIH_TERMS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
             "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
NIH_PREVALENCE = (0.10, 0.025, 0.12, 0.18, 0.05, 0.056, 0.013, 0.047, 0.042, 0.02, 0.022, 0.015, 0.03, 0.002)
UKA_GRADED = ("cardiomegaly", "congestion", "pleural_effusion_right", "pleural_effusion_left",
              "pneumonic_infiltrates_right", "pneumonic_infiltrates_left", "atelectasis_right", "atelectasis_left")
PADCHEST_FILE = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
PADCHEST_TERMS = (
    "normal", "pulmonary fibrosis", "chronic changes", "kyphosis", "pseudonodule", "ground glass pattern",
    "unchanged", "alveolar pattern", "interstitial pattern", "laminar atelectasis", "pleural effusion",
    "apical pleural thickening", "suture material", "sternotomy", "endotracheal tube", "infiltrates",
    "heart insufficiency", "hemidiaphragm elevation", "superior mediastinal enlargement", "aortic elongation",
    "scoliosis", "sclerotic bone lesion", "supra aortic elongation", "vertebral degenerative changes", "goiter",
    "COPD signs", "air trapping", "descendent aortic elongation", "aortic atheromatosis", "metal", "hypoexpansion",
    "central venous catheter via subclavian vein", "central venous catheter via jugular vein", "volume loss",
    "bronchiectasis", "hilar enlargement", "nodule", "multiple nodules", "mass", "pulmonary mass", "soft tissue mass",
    "breast mass", "mediastinal mass", "cardiomegaly", "consolidation", "pneumonia", "atypical pneumonia",
    "atelectasis", "lobar atelectasis", "segmental atelectasis", "round atelectasis", "pneumothorax", "emphysema",
    "subcutaneous emphysema", "hiatal hernia", "hernia", "hilar congestion", "vascular redistribution",
    "calcified granuloma", "costophrenic angle blunting", "pleural thickening", "callus rib fracture",
    "rib fracture", "vertebral compression", "osteopenia", "pacemaker", "NSG tube", "tuberculosis sequelae",
    "bullas", "fibrotic band", "granuloma", "loculated pleural effusion", "cavitation", "dextrocardia", "exclude",
    "suboptimal study",
)


def _choice_terms(rng: np.random.Generator, n: int, vocab: tuple[str, ...], weights: np.ndarray, mean_terms: float,
                  empty: str) -> np.ndarray:
    """Per image a `|`-joined set of terms; distinct combinations repeat as in real metadata."""
    k = np.minimum(rng.poisson(mean_terms, n), 6)
    picks = rng.choice(len(vocab), size=(n, 6), p=weights / weights.sum())
    vocab_arr = np.asarray(vocab, dtype=object)
    out = np.empty(n, dtype=object)
    for size in range(7):  # vectorized per term count: joins over a column block, not per row
        rows = np.flatnonzero(k == size)
        if size == 0:
            out[rows] = empty
            continue
        block = np.sort(picks[rows, :size], axis=1)
        joined = pd.Series(vocab_arr[block[:, 0]])
        for j in range(1, size):
            same = block[:, j] == block[:, j - 1]
            joined = joined + np.where(same, "", "|" + vocab_arr[block[:, j]].astype(str))
        out[rows] = joined.to_numpy()
    return out


def make_vindr(root: Path, n: int, rng: np.random.Generator) -> None:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    n_test = min(3_000, n // 6)
    n_train = n - n_test
    ids = np.array([f"{v:032x}" for v in rng.integers(0, 2**62, n_train)], dtype=object)
    truth = rng.random((n_train, len(VINDR_LABELS))) < 0.04
    votes = np.where(truth[:, None, :], rng.random((n_train, 3, len(VINDR_LABELS))) < 0.8,
                     rng.random((n_train, 3, len(VINDR_LABELS))) < 0.01).reshape(n_train * 3, -1)
    readers = np.sort(rng.permuted(np.tile(np.arange(1, 18), (n_train, 1)), axis=1)[:, :3], axis=1).ravel()
    train = pd.DataFrame(votes.astype(np.int8), columns=list(VINDR_LABELS))
    train.insert(0, "rad_id", pd.Series(readers).map(lambda r: f"R{r}").to_numpy())
    train.insert(0, "image_id", np.repeat(ids, 3))
    train.to_csv(root / "annotations" / "image_labels_train.csv", index=False)
    test = pd.DataFrame((rng.random((n_test, len(VINDR_LABELS))) < 0.04).astype(np.int8), columns=list(VINDR_LABELS))
    test.insert(0, "image_id", [f"{v:032x}" for v in rng.integers(0, 2**62, n_test)])
    test.to_csv(root / "annotations" / "image_labels_test.csv", index=False)


def make_nih(root: Path, n: int, rng: np.random.Generator) -> None:
    n_patients = 30_805
    patient = np.sort(rng.integers(1, n_patients + 1, n))
    follow = pd.Series(patient).groupby(patient).cumcount().to_numpy()
    names = pd.Series(patient).map("{:08d}".format) + "_" + pd.Series(follow).map("{:03d}".format) + ".png"
    weights = np.asarray(NIH_PREVALENCE)
    terms = _choice_terms(rng, n, NIH_TERMS, weights, 0.75, "No Finding")
    df = pd.DataFrame({"Image Index": names, "Finding Labels": terms, "Follow-up #": follow, "Patient ID": patient,
                       "Patient Age": rng.integers(1, 95, n), "Patient Gender": rng.choice(["M", "F"], n),
                       "View Position": rng.choice(["PA", "AP"], n, p=[0.6, 0.4]),
                       "OriginalImage[Width": 2500, "Height]": 2048, "OriginalImagePixelSpacing[x": 0.143,
                       "y]": 0.143})
    # the 2017 file ends every line with a comma (an empty 12th column)
    text = df.to_csv(index=False, lineterminator=",\n")
    (root / "Data_Entry_2017_v2020.csv").write_text(text)
    test_patients = rng.random(n_patients + 1) < 0.25
    is_test = test_patients[patient]
    (root / "test_list.txt").write_text("\n".join(names[is_test]) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(names[~is_test]) + "\n")


def _chexpert_values(rng: np.random.Generator, n: int, prevalence: float) -> np.ndarray:
    u = rng.random(n)
    return np.select([u < prevalence, u < prevalence + 0.03, u < prevalence + 0.12], [1.0, -1.0, 0.0], np.nan)


def make_chexpert(root: Path, n: int, rng: np.random.Generator) -> None:
    folder = root / "CheXpert-v1.0"
    folder.mkdir(parents=True, exist_ok=True)
    n_valid = 234
    for name, count, split, first in (("train.csv", n - n_valid, "train", 1), ("valid.csv", n_valid, "valid", 64541)):
        patient = first + np.sort(rng.integers(0, max(1, count * 64_540 // n), count))
        nth = pd.Series(patient).groupby(patient).cumcount().to_numpy()  # unique (study, view) per patient
        lateral = (nth % 2 == 1) & (rng.random(count) < 0.3)
        path = (f"CheXpert-v1.0/{split}/patient" + pd.Series(patient).map("{:05d}".format) + "/study"
                + pd.Series(nth // 2 + 1).astype(str) + "/view" + pd.Series(nth % 2 + 1).astype(str)
                + np.where(lateral, "_lateral.jpg", "_frontal.jpg"))
        ap_pa = np.where(lateral, "", rng.choice(["AP", "PA", "LL", ""], count, p=[0.78, 0.19, 0.002, 0.028]))
        df = pd.DataFrame({"Path": path, "Sex": rng.choice(["Male", "Female", "Unknown"], count, p=[0.59, 0.409, 0.001]),
                           "Age": rng.integers(18, 91, count), "Frontal/Lateral": np.where(lateral, "Lateral", "Frontal"),
                           "AP/PA": ap_pa})
        for label, prevalence in zip(CHEXPERT_LABELS, CHEXPERT_PREVALENCE):
            df[label] = _chexpert_values(rng, count, prevalence)
        df.to_csv(folder / name, index=False)


def make_mimic(root: Path, n: int, rng: np.random.Generator) -> None:
    root.mkdir(parents=True, exist_ok=True)
    n_studies = n * 10 // 19
    study_of_image = np.sort(rng.integers(0, n_studies, n))
    study_ids = 50_000_000 + rng.permutation(n_studies * 2)[:n_studies]
    subject_of_study = 10_000_000 + rng.integers(0, 65_379, n_studies) * 137
    subject = subject_of_study[study_of_image]
    study = study_ids[study_of_image]
    dicom = pd.Series(rng.integers(0, 2**62, n)).map(lambda v: f"{v:016x}")
    dicom = dicom.str[:8] + "-" + dicom.str[8:16] + "-" + dicom.str[:8] + "-" + dicom.str[8:16] + "-" + dicom.str[:8]
    view = rng.choice(["PA", "AP", "LATERAL", "LL", "", "AP AXIAL"], n, p=[0.36, 0.41, 0.19, 0.02, 0.01, 0.01])
    pd.DataFrame({"dicom_id": dicom, "subject_id": subject, "study_id": study,
                  "PerformedProcedureStepDescription": "CHEST (PA AND LAT)", "ViewPosition": view, "Rows": 3056,
                  "Columns": 2544, "StudyDate": 21800506, "StudyTime": 213014.531,
                  "ProcedureCodeSequence_CodeMeaning": "CHEST (PA AND LAT)",
                  "ViewCodeSequence_CodeMeaning": "postero-anterior",
                  "PatientOrientationCodeSequence_CodeMeaning": "Erect"}).to_csv(
        root / "mimic-cxr-2.0.0-metadata.csv.gz", index=False)
    test_subject = (subject % 50) == 0
    split = np.where(test_subject, "test", np.where((subject % 97) == 1, "validate", "train"))
    pd.DataFrame({"dicom_id": dicom, "study_id": study, "subject_id": subject, "split": split}).to_csv(
        root / "mimic-cxr-2.0.0-split.csv.gz", index=False)
    studies = pd.DataFrame({"subject_id": subject_of_study, "study_id": study_ids})
    for label, prevalence in sorted(zip(CHEXPERT_LABELS, CHEXPERT_PREVALENCE)):
        studies[label] = _chexpert_values(rng, n_studies, prevalence)
    studies.to_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", index=False)


def make_uka(root: Path, n: int, rng: np.random.Generator) -> None:
    root.mkdir(parents=True, exist_ok=True)
    patient = np.sort(rng.integers(0, 45_016, n))
    df = pd.DataFrame({"image_id": [f"{i:07d}" for i in range(n)],
                       "split": np.where(rng.random(45_016) < 0.206, "test", "train")[patient],
                       "subset": rng.choice(["2009-2012", "2013-2016", "2017-2020"], n)})
    for name in UKA_GRADED:
        df[name] = rng.choice(6, n, p=[0.02, 0.55, 0.2, 0.13, 0.07, 0.03])
    df["healthy"] = (df[list(UKA_GRADED)].max(axis=1) <= 2).astype(int)
    df["patient_id"] = [f"UKA{p:06d}" for p in patient]
    df["age"] = rng.integers(18, 99, n)
    df["sex"] = rng.choice(["M", "F"], n, p=[0.64, 0.36])
    df.to_csv(root / "labels.csv", index=False)


def make_padchest(root: Path, n: int, rng: np.random.Generator) -> None:
    root.mkdir(parents=True, exist_ok=True)
    weights = 1.0 / np.arange(1, len(PADCHEST_TERMS) + 1) ** 1.1
    weights[0] = weights.sum() * 0.45  # 'normal'
    terms = _choice_terms(rng, n, PADCHEST_TERMS, weights, 1.4, "")
    terms = np.where(np.char.find(terms.astype(str), "normal") >= 0, "normal", terms)  # normal stands alone
    labels = pd.Series(terms).map(lambda s: "[" + ", ".join(f"'{t}'" for t in s.split("|")) + "]" if s else "[]")
    quirk = rng.random(n)
    labels = labels.where(quirk > 0.01, labels.str.replace("['", "[' ", regex=False))     # stray spaces
    labels = labels.where((quirk < 0.01) | (quirk > 0.015), labels.str.replace("]", ", '']", regex=False))  # empty
    labels = labels.where((quirk < 0.015) | (quirk > 0.018), "")                          # missing cell
    patient = rng.integers(0, 67_625, n)
    year = rng.integers(2009, 2018, n)
    image_id = pd.Series(rng.integers(0, 2**62, n)).map(lambda v: f"{v:019d}") + "_00-000-000.png"
    df = pd.DataFrame({
        "ImageID": image_id, "ImageDir": rng.integers(0, 55, n), "StudyDate_DICOM": year * 10_000 + 615,
        "StudyID": pd.Series(rng.integers(0, 2**62, n)).map("{:x}".format), "PatientID": pd.Series(patient).map("{:x}".format),
        "PatientBirth": (year - rng.integers(1, 95, n)).astype(float), "PatientSex_DICOM": rng.choice(["M", "F", "O"], n,
                                                                                                      p=[0.49, 0.5, 0.01]),
        "ViewPosition_DICOM": "POSTEROANTERIOR", "Projection": rng.choice(
            ["PA", "L", "AP", "AP_horizontal", "COSTAL", "EXCLUDE", "UNK"], n, p=[0.55, 0.3, 0.06, 0.07, 0.005, 0.004, 0.011]),
        "MethodProjection": "Manual review of DICOM fields", "Pediatric": "No", "Modality_DICOM": "CR",
        "Manufacturer_DICOM": "PhilipsMedicalSystems", "PhotometricInterpretation_DICOM": "MONOCHROME2",
        "Report": "cardiomegalia , derrame pleural bilateral .", "MethodLabel": rng.choice(["Physician", "RNN_model"], n,
                                                                                          p=[0.27, 0.73]),
        "Labels": labels, "Localizations": "[]", "LabelsLocalizationsBySentence": "[['normal']]",
        "labelCUIS": "[]", "LocalizationsCUIS": "[]"})
    df.to_csv(root / PADCHEST_FILE, index=False)


MAKERS = {"vindr": make_vindr, "nih": make_nih, "chexpert": make_chexpert, "mimic": make_mimic, "uka": make_uka,
          "padchest": make_padchest}


def synthesize(base: Path, scale: float, seed: int) -> dict[str, float]:
    times = {}
    for i, (source, maker) in enumerate(MAKERS.items()):
        started = time.perf_counter()
        (base / source).mkdir(parents=True, exist_ok=True)
        maker(base / source, max(60, int(SIZES[source] * scale)),
              np.random.default_rng([seed, i]))
        times[source] = time.perf_counter() - started
    return times


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(base: Path, seed: int) -> dict:
    """The measured part: read, harmonize, split and report every source (child process)."""
    from cxrinit.labels import harmonize_labels, label_report, load_ontology, make_splits
    from cxrinit.sources import read_source

    ontology = load_ontology(Path(__file__).resolve().parents[1] / "conf" / "base" / "labels.yml")
    out: dict = {"rss_after_imports_mb": _rss_mb(), "sources": {}}
    kept = {}
    started = time.perf_counter()
    for source in MAKERS:
        t0 = time.perf_counter()
        table = read_source(source, base / source)
        t1 = time.perf_counter()
        result = harmonize_labels(table.manifest, ontology, source)
        t2 = time.perf_counter()
        splits = make_splits(table.manifest, seed=seed, source=source, **ontology.split_policy(source))
        t3 = time.perf_counter()
        report = label_report(source, result.labels, splits)
        t4 = time.perf_counter()
        out["sources"][source] = {"images": len(table.manifest), "rejected": len(table.rejected),
                                  "kept": result.counts["images_out"], "read_s": t1 - t0, "harmonize_s": t2 - t1,
                                  "split_s": t3 - t2, "report_s": t4 - t3}
        kept[source] = (result.labels, splits, report)  # what the pipeline would persist
        del table, result
    out["total_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = _rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the study's sizes")
    parser.add_argument("--keep", type=Path, help="write the metadata here and keep it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # child mode: measure only
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args.seed)))
        return
    base = args.keep or Path(tempfile.mkdtemp(prefix="cxrinit-scale-"))
    try:
        synth = synthesize(base, args.scale, args.seed)
        print(f"synthesized metadata for {sum(int(SIZES[s] * args.scale) for s in SIZES):,} images in "
              f"{sum(synth.values()):.1f} s (not counted below)", flush=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                                            os.environ.get("PYTHONPATH", "")])}
        child = subprocess.run([sys.executable, __file__, "--run", str(base), "--seed", str(args.seed)], env=env,
                               capture_output=True, text=True)
        if child.returncode:
            sys.stderr.write(child.stderr)
            raise SystemExit(child.returncode)
        result = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'source':9s} {'images':>8s} {'rejected':>8s} {'kept':>8s} {'read s':>7s} {'harm s':>7s} {'split s':>7s} "
          f"{'report s':>8s}")
    for source, r in result["sources"].items():
        print(f"{source:9s} {r['images']:8d} {r['rejected']:8d} {r['kept']:8d} {r['read_s']:7.2f} "
              f"{r['harmonize_s']:7.2f} {r['split_s']:7.2f} {r['report_s']:8.2f}")
    total_images = sum(r["images"] + r["rejected"] for r in result["sources"].values())
    verdict = "OK" if result["total_s"] < 60 and result["peak_rss_mb"] < 4096 else "OVER TARGET"
    print(f"total: {total_images:,} images read + harmonized + split in {result['total_s']:.1f} s "
          f"({total_images / result['total_s']:,.0f} images/s); peak RSS {result['peak_rss_mb']:,.0f} MB "
          f"({result['rss_after_imports_mb']:,.0f} MB after imports); target < 60 s and < 4096 MB: {verdict}")


if __name__ == "__main__":
    main()
