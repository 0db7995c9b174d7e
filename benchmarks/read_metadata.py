"""Time every metadata reader on synthetic tables of the real datasets' full size (no pixels).

Baseline: a bare ``pd.read_csv(dtype=str)`` of the same files (what reading costs at the least, the
way the study's scripts read their lists: pandas, one core). Ratios are baseline time / reader time,
like every benchmark here: below 1, the reader's validation, joins and parsing cost that much over
reading the files alone. Per source, two settings:

* like-for-like, one core each: the process pinned to one core, Arrow's CSV parser on one thread;
* default, all cores: the reader as it runs (Arrow's parser on every core; pandas has no threads).

``cpu s`` is the reader's process CPU time in the default setting (steadier than wall time on a shared
machine). The last line, ``speedup:``, is the default setting's over all sources. Usage:

    PYTHONPATH=src python benchmarks/read_metadata.py [--scale 1.0] [--keep DIR] [--only nih,padchest]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cxrinit.sources import read_source
from cxrinit.sources import chexpert as chexpert_mod
from cxrinit.sources import mimic as mimic_mod
from cxrinit.sources import padchest as padchest_mod
from cxrinit.sources import uka as uka_mod
from cxrinit.sources import vindr as vindr_mod

FULL = {"nih": 112_120, "padchest": 160_861, "chexpert": 223_414, "chexpert_valid": 234, "mimic": 377_110,
        "vindr_train_images": 15_000, "vindr_test": 3_000, "uka": 193_361}
NIH_TERMS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
             "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
PADCHEST_TERMS = [f"term {i}" for i in range(190)] + ["normal", "pleural effusion", "cardiomegaly", "nodule"]


def _pick_terms(rng: np.random.Generator, n: int, vocab: list[str], max_terms: int, empty: str) -> list[str]:
    k = rng.integers(0, max_terms + 1, n)
    picks = rng.integers(0, len(vocab), (n, max_terms))
    return [empty if kk == 0 else "|".join(vocab[j] for j in row[:kk]) for kk, row in zip(k, picks)]


def make_nih(root: Path, n: int, rng: np.random.Generator) -> None:
    patients = np.sort(rng.integers(1, 30_806, n))
    follow = pd.Series(patients).groupby(patients).cumcount().to_numpy()
    names = [f"{p:08d}_{f:03d}.png" for p, f in zip(patients, follow)]
    df = pd.DataFrame({
        "Image Index": names, "Finding Labels": _pick_terms(rng, n, NIH_TERMS, 3, "No Finding"),
        "Follow-up #": follow, "Patient ID": patients, "Patient Age": rng.integers(1, 95, n),
        "Patient Gender": rng.choice(["M", "F"], n), "View Position": rng.choice(["PA", "AP"], n),
        "OriginalImage[Width": 2500, "Height]": 2048, "OriginalImagePixelSpacing[x": 0.143, "y]": 0.143})
    df.to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    test = rng.random(n) < 0.23
    (root / "test_list.txt").write_text("\n".join(np.array(names)[test]) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(np.array(names)[~test]) + "\n")


def make_padchest(root: Path, n: int, rng: np.random.Generator) -> None:
    terms = _pick_terms(rng, n, PADCHEST_TERMS, 4, "")
    labels = ["[" + ", ".join(f"'{t}'" for t in s.split("|")) + "]" if s else "['normal']" for s in terms]
    labels = np.array(labels, dtype=object)
    labels[rng.random(n) < 0.01] = ""
    report = ("cardiomegalia con derrame pleural bilateral de pequena cuantia. elongacion aortica. cambios "
              "degenerativos en columna dorsal. sin otros hallazgos significativos.")
    df = pd.DataFrame({
        "ImageID": [f"2168401113669640122833938341520090331022588{i:07d}_02-059-019.png" for i in range(n)],
        "ImageDir": rng.integers(0, 55, n), "StudyDate_DICOM": rng.integers(2009, 2018, n) * 10_000 + 310,
        "StudyID": [f"S{i // 2}" for i in range(n)], "PatientID": [f"P{i // 3}" for i in range(n)],
        "PatientBirth": rng.integers(1920, 2015, n).astype(float),
        # a release copy in circulation writes missing text as 'nan'
        "PatientSex_DICOM": rng.choice(["M", "F", "O", "nan"], n, p=[0.5, 0.4999, 0.00005, 0.00005]),
        "ViewPosition_DICOM": "POSTEROANTERIOR", "Projection": rng.choice(["PA", "L", "AP", "AP_horizontal"], n),
        "MethodProjection": "Manual review of DICOM fields", "Pediatric": "No", "Modality_DICOM": "CR",
        "Manufacturer_DICOM": "PhilipsMedicalSystems", "PhotometricInterpretation_DICOM": "MONOCHROME2",
        "PixelRepresentation_DICOM": 0, "PixelAspectRatio_DICOM": "", "SpatialResolution_DICOM": 0.139,
        "BitsStored_DICOM": 12, "WindowCenter_DICOM": "2048", "WindowWidth_DICOM": "4096",
        "Rows_DICOM": 2828, "Columns_DICOM": 2320, "XRayTubeCurrent_DICOM": 250, "Exposure_DICOM": 3,
        "ExposureInuAs_DICOM": 3270, "ExposureTime": 13, "RelativeXRayExposure_DICOM": "",
        "ReportID": rng.integers(1, 10**9, n),
        # many of the real release's reports are quoted cells spanning lines
        "Report": np.where(rng.random(n) < 0.3, report.replace(". ", ".\n"), report),
        "MethodLabel": rng.choice(["Physician", "RNN_model"], n), "Labels": labels,
        "Localizations": "['loc right', 'loc basal']", "LabelsLocalizationsBySentence":
            "[['cardiomegaly'], ['pleural effusion', 'loc right', 'loc basal'], ['aortic elongation'], ['normal']]",
        "labelCUIS": "['C0018800' 'C0032227']", "LocalizationsCUIS": "['C0205090' 'C1282910']"})
    df.to_csv(root / padchest_mod.LABELS_FILE, index=False)


def make_chexpert(root: Path, n_train: int, n_valid: int, rng: np.random.Generator) -> None:
    folder = root / "CheXpert-v1.0-small"
    folder.mkdir()
    for name, n, split in (("train.csv", n_train, "train"), ("valid.csv", n_valid, "valid")):
        lateral = rng.random(n) < 0.15
        df = pd.DataFrame({
            "Path": [f"CheXpert-v1.0-small/{split}/patient{i // 3:05d}/study{i % 3 + 1}/view1_frontal.jpg"
                     for i in range(n)],
            "Sex": rng.choice(["Male", "Female", "Unknown"], n, p=[0.5, 0.49, 0.01]), "Age": rng.integers(18, 91, n),
            "Frontal/Lateral": np.where(lateral, "Lateral", "Frontal"),
            "AP/PA": np.where(lateral, "", rng.choice(["AP", "PA"], n))})
        for label in chexpert_mod.LABELS:
            df[label] = rng.choice(np.array([1.0, 0.0, -1.0, np.nan]), n, p=[0.1, 0.1, 0.05, 0.75])
        df.to_csv(folder / name, index=False)


def make_mimic(root: Path, n: int, rng: np.random.Generator) -> None:
    study = np.sort(rng.integers(50_000_000, 50_000_000 + n * 6 // 10, n))
    subject = 10_000_000 + study % 65_000
    dicom = [f"{i:08x}-bde0afdd-112c0b34-7bc16630-4e384014" for i in range(n)]
    pd.DataFrame({"dicom_id": dicom, "subject_id": subject, "study_id": study,
                  "PerformedProcedureStepDescription": "CHEST (PA AND LAT)",
                  "ViewPosition": rng.choice(["PA", "AP", "LATERAL", "LL", ""], n), "Rows": 3056, "Columns": 2544,
                  "StudyDate": 21800506, "StudyTime": 213014.531}).to_csv(
        root / "mimic-cxr-2.0.0-metadata.csv.gz", index=False)
    pd.DataFrame({"dicom_id": dicom, "study_id": study, "subject_id": subject,
                  "split": rng.choice(["train", "validate", "test"], n, p=[0.98, 0.01, 0.01])}).to_csv(
        root / "mimic-cxr-2.0.0-split.csv.gz", index=False)
    studies = pd.DataFrame({"subject_id": subject, "study_id": study}).drop_duplicates()
    for label in mimic_mod.LABELS:
        studies[label] = rng.choice(np.array([1.0, 0.0, -1.0, np.nan]), len(studies), p=[0.1, 0.1, 0.05, 0.75])
    studies.to_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", index=False)


def make_vindr(root: Path, n_images: int, n_test: int, rng: np.random.Generator) -> None:
    (root / "annotations").mkdir()
    ids = [f"{i:032x}" for i in range(n_images)]
    readers = rng.permuted(np.tile(np.arange(1, 18), (n_images, 1)), axis=1)[:, :3]  # 3 distinct of R1..R17
    train = pd.DataFrame({"image_id": np.repeat(ids, 3), "rad_id": [f"R{r}" for r in readers.ravel()]})
    for label in vindr_mod.LABELS:
        train[label] = (rng.random(len(train)) < 0.05).astype(int)
    train.to_csv(root / "annotations/image_labels_train.csv", index=False)
    test = pd.DataFrame({"image_id": [f"t{i:031x}" for i in range(n_test)]})
    for label in vindr_mod.LABELS:
        test[label] = (rng.random(n_test) < 0.05).astype(int)
    test.to_csv(root / "annotations/image_labels_test.csv", index=False)


def make_uka(root: Path, n: int, rng: np.random.Generator) -> None:
    df = pd.DataFrame({"image_id": [f"u{i:07d}" for i in range(n)],
                       "split": rng.choice(["train", "test"], n, p=[0.8, 0.2]), "subset": "icu"})
    for grade in uka_mod.GRADED:
        df[grade] = rng.integers(0, 6, n)
    df["healthy"] = rng.integers(0, 2, n)
    df["patient_id"] = [f"P{i // 4}" for i in range(n)]
    df["age"] = rng.integers(18, 95, n)
    df["sex"] = rng.choice(["M", "F"], n)
    df.to_csv(root / "labels.csv", index=False)


def _bare_read(root: Path) -> None:
    for path in sorted(root.rglob("*.csv*")):
        pd.read_csv(path, dtype=str)


def _one_core() -> tuple[set[int], int]:
    """Pin the process to one core and Arrow to one thread; returns what to restore."""
    import pyarrow as pa

    saved = os.sched_getaffinity(0), pa.cpu_count()
    os.sched_setaffinity(0, {max(saved[0])})
    pa.set_cpu_count(1)
    return saved


def _all_cores(saved: tuple[set[int], int]) -> None:
    import pyarrow as pa

    os.sched_setaffinity(0, saved[0])
    pa.set_cpu_count(saved[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full sizes")
    parser.add_argument("--keep", type=Path, help="write the tables here and keep them")
    parser.add_argument("--only", default="", help="comma-separated sources")
    args = parser.parse_args()
    n = {k: max(3, int(v * args.scale)) for k, v in FULL.items()}
    rng = np.random.default_rng(0)
    makers: dict[str, Callable[[Path], None]] = {
        "nih": lambda r: make_nih(r, n["nih"], rng),
        "padchest": lambda r: make_padchest(r, n["padchest"], rng),
        "chexpert": lambda r: make_chexpert(r, n["chexpert"], n["chexpert_valid"], rng),
        "mimic": lambda r: make_mimic(r, n["mimic"], rng),
        "vindr": lambda r: make_vindr(r, n["vindr_train_images"], n["vindr_test"], rng),
        "uka": lambda r: make_uka(r, n["uka"], rng),
    }
    chosen = [s for s in makers if not args.only or s in args.only.split(",")]
    base = args.keep or Path(tempfile.mkdtemp(prefix="cxrinit-bench-"))
    cores = len(os.sched_getaffinity(0))
    totals = dict.fromkeys(("bare_1", "ours_1", "bare", "ours"), 0.0)
    like, default = [], []
    try:
        tiny = {"nih": make_nih, "padchest": make_padchest, "mimic": make_mimic, "uka": make_uka}
        for source in chosen:  # warm-up: imports and first calls, before any clock starts
            root = base / "warm-up" / source
            root.mkdir(parents=True)
            if source in tiny:
                tiny[source](root, 12, np.random.default_rng(1))
            elif source == "chexpert":
                make_chexpert(root, 12, 6, np.random.default_rng(1))
            else:
                make_vindr(root, 12, 6, np.random.default_rng(1))
            _bare_read(root)
            read_source(source, root)
        for source in chosen:
            root = base / source
            if root.exists():
                shutil.rmtree(root)
            root.mkdir(parents=True)
            t0 = time.perf_counter()
            makers[source](root)
            synth = time.perf_counter() - t0
            t = {}
            saved = _one_core()
            try:
                for case, run in (("bare_1", lambda: _bare_read(root)), ("ours_1", lambda: read_source(source, root))):
                    start = time.perf_counter()
                    run()
                    t[case] = time.perf_counter() - start
            finally:
                _all_cores(saved)
            start = time.perf_counter()
            _bare_read(root)
            t["bare"] = time.perf_counter() - start
            start, cpu = time.perf_counter(), time.process_time()
            table = read_source(source, root)
            t["ours"], cpu = time.perf_counter() - start, time.process_time() - cpu
            rows = len(table.manifest) + len(table.rejected)
            for case in totals:
                totals[case] += t[case]
            like.append(f"{source:10s} {rows:9d} {t['bare_1']:7.2f} {t['ours_1']:7.2f} {t['bare_1'] / t['ours_1']:6.2f}x")
            default.append(f"{source:10s} {rows:9d} {t['bare']:7.2f} {t['ours']:7.2f} {cpu:6.2f} "
                           f"{t['bare'] / t['ours']:6.2f}x {rows / t['ours']:9.0f}")
            print(f"{source}: synthesized in {synth:.2f} s; " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()),
                  flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("\nlike-for-like: bare pd.read_csv(dtype=str) of the same files and our reader, one core each "
          "(Arrow on one thread); ratio = bare s / reader s")
    print(f"{'source':10s} {'rows':>9s} {'bare s':>7s} {'ours s':>7s} {'ratio':>7s}")
    print("\n".join(like))
    print(f"\ndefault: bare pd.read_csv (one core: pandas has no threads) against our reader as it runs "
          f"(Arrow on all {cores} cores)")
    print(f"{'source':10s} {'rows':>9s} {'bare s':>7s} {'ours s':>7s} {'cpu s':>6s} {'ratio':>7s} {'rows/s':>9s}")
    print("\n".join(default))
    print(f"\nlike-for-like: {totals['bare_1'] / totals['ours_1']:.2f}x (all sources, one core each; below 1: "
          "validation, joins and parsing cost more than reading the files)")
    print(f"speedup: {totals['bare'] / totals['ours']:.2f}x (default: our readers on all {cores} cores against a "
          "bare pd.read_csv)")


if __name__ == "__main__":
    main()
