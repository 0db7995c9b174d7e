"""MIMIC-CXR-JPG 2.x as downloaded.

Layout under the root::

    files/p10/p10000032/s50414267/<dicom_id>.jpg
    mimic-cxr-2.0.0-metadata.csv.gz    one row per image (view, size, date/time, procedure)
    mimic-cxr-2.0.0-chexpert.csv.gz    one row per study: subject_id, study_id, 14 labels (A-Z)
    mimic-cxr-2.0.0-split.csv.gz       dicom_id, study_id, subject_id, split (train/validate/test)

``dicom_id`` looks like ``02aa804e-bde0afdd-112c0b34-7bc16630-4e384014``; subject ids are
1xxxxxxx, study ids 5xxxxxxx, dates are shifted into the 22nd century as in the release.
ViewPosition is PA / AP / LATERAL / LL, with a few blank or unusual positions (the answer
key's ``view`` column keeps the film's true view, ``ViewPosition`` what the header says).
Labels are study-level, from the CheXpert labeler (1.0 / 0.0 / -1.0 / blank).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import acquisition, common, labeler, runner
from cxrinit.demo.writers.acquisition import Profile, Renderer

NAME = "mimic"
METADATA_COLUMNS: tuple[str, ...] = (
    "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows", "Columns",
    "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
)
LABELS: tuple[str, ...] = tuple(sorted(labeler.OBSERVATIONS))
CHEXPERT_COLUMNS: tuple[str, ...] = ("subject_id", "study_id", *LABELS)
SPLIT_COLUMNS: tuple[str, ...] = ("dicom_id", "study_id", "subject_id", "split")
BROKEN = ("missing", "truncated", "wrong_format", "zero_bytes")
PROFILE = Profile(height=(580, 640), width=(480, 540), gamma=(0.85, 1.2), noise=(0.004, 0.015), blur=(0.0, 0.6))
VIEW_MEANING = {"PA": "postero-anterior", "AP": "antero-posterior", "LATERAL": "lateral", "LL": "left lateral",
                "AP AXIAL": "antero-posterior", "LAO": "left anterior oblique", "": ""}
UNUSUAL_VIEWS = ("AP AXIAL", "LAO")


def _procedure(views: set[str]) -> str:
    return "CHEST (PORTABLE AP)" if views == {"AP"} else "CHEST (PA AND LAT)"


def plan(specs: Sequence[ImageSpec], seed: int, n_broken: int = 4, *, scale: float = 1.0) -> pd.DataFrame:
    """Decide every MIMIC id, path, header field, study label and split (no pixels)."""
    common.check_specs(specs, NAME)
    gen = common.rng(seed, NAME)
    split_of = common.patient_splits([s.patient_index for s in specs],
                                     {"train": 0.7, "validate": 0.1, "test": 0.2}, gen)
    subjects: dict[int, str] = {}
    studies: dict[int, str] = {}
    used: set[str] = set()
    for s in specs:
        if s.patient_index not in subjects:
            subjects[s.patient_index] = _unique(lambda: str(int(gen.integers(10_000_000, 20_000_000))), used)
        if s.study_index not in studies:
            studies[s.study_index] = _unique(lambda: str(int(gen.integers(50_000_000, 60_000_000))), used)
    study_views: dict[int, set[str]] = {}
    for s in specs:
        study_views.setdefault(s.study_index, set()).add(s.view)
    labels: dict[int, dict[str, float]] = {}
    when: dict[int, tuple[str, str]] = {}
    rows: list[dict] = []
    for s in specs:
        if s.study_index not in labels:
            labels[s.study_index] = labeler.noisy(s, gen)
            day = np.datetime64("2110-01-01") + int(gen.integers(0, 365 * 100))
            hhmmss = int(gen.integers(0, 24)) * 10000 + int(gen.integers(0, 60)) * 100 + int(gen.integers(0, 60))
            # the release's StudyTime is numeric: HHMMSS.fff without leading zeros
            when[s.study_index] = (str(day).replace("-", ""), round(hhmmss + float(gen.integers(0, 1000)) / 1000, 3))
        subject, study = subjects[s.patient_index], studies[s.study_index]
        dicom_id = "-".join(common.hex_id(gen, 4) for _ in range(5))
        native_view = s.view if s.view != "LATERAL" or gen.random() < 0.7 else "LL"
        acq = acquisition.draw(PROFILE, gen, scale)
        proc = _procedure(study_views[s.study_index])
        rows.append({
            "spec_index": s.image_index, "path": f"files/p{subject[:2]}/p{subject}/s{study}/{dicom_id}.jpg",
            "native_id": dicom_id, "patient_id": subject, "study_id": study, "view": s.view,
            "findings": common.findings_str(s), "broken": "", "broken_detail": "", "split": split_of[s.patient_index],
            "sex": s.sex, "age": s.age, **acq, "pixel_seed": common.derive_seed(seed, NAME, "pixels", s.image_index),
            "dicom_id": dicom_id, "subject_id": int(subject), "study_id_int": int(study),
            "PerformedProcedureStepDescription": proc, "ViewPosition": native_view,
            "Rows": acq["height"], "Columns": acq["width"],
            "StudyDate": int(when[s.study_index][0]), "StudyTime": when[s.study_index][1],
            "ProcedureCodeSequence_CodeMeaning": proc,
            "ViewCodeSequence_CodeMeaning": "",
            "PatientOrientationCodeSequence_CodeMeaning": "Recumbent" if s.view == "AP" else "Erect",
            **labels[s.study_index],
        })
    broken = common.assign_broken(len(rows), BROKEN, n_broken, gen)
    readable = [i for i, k in enumerate(broken) if k == ""]
    if len(readable) >= 8:
        # a few headers carry a blank or unusual view position
        for i, vp in zip(gen.choice(readable, size=2, replace=False), ("", str(gen.choice(UNUSUAL_VIEWS)))):
            rows[int(i)]["ViewPosition"] = vp
    for row, kind in zip(rows, broken):
        row["broken"] = kind
        row["broken_detail"] = _detail(kind)
        row["ViewCodeSequence_CodeMeaning"] = VIEW_MEANING[row["ViewPosition"]]
        if gen.random() < 0.05:
            row["PatientOrientationCodeSequence_CodeMeaning"] = ""
    native = [c for c in METADATA_COLUMNS if c != "study_id"] + ["study_id_int", *LABELS]
    return common.finish(rows, native, NAME, 0)


def _unique(make, used: set[str]) -> str:
    v = make()
    while v in used:
        v = make()
    used.add(v)
    return v


def _detail(kind: str) -> str:
    return {
        "": "",
        "truncated": "JPEG cut short inside the scan",
        "wrong_format": "HTML error page saved as .jpg",
        "missing": "listed in the metadata, file not present",
        "zero_bytes": "empty file",
    }[kind]


def _encode(row: dict, spec: ImageSpec, render: Renderer) -> bytes:
    if row["broken"] == "wrong_format":
        return acquisition.ERROR_PAGE
    img = acquisition.render_checked(render, spec, (int(row["height"]), int(row["width"])))
    px = acquisition.quantize(acquisition.acquire(img, row, int(row["pixel_seed"])), 8)
    return acquisition.encode_jpeg(px, 95)


def write(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer, workers: int = 1) -> None:
    """Write the JPEG tree, then the three gzipped CSVs."""
    root = runner.check_inputs(plan, specs, root, NAME, BROKEN)
    runner.write_images(plan, specs, root, render, _encode, workers, NAME)
    table = plan.assign(study_id=plan["study_id_int"]).sort_values(["subject_id", "study_id", "dicom_id"],
                                                                   kind="stable")
    studies = table.drop_duplicates("study_id")
    for name, part in (("metadata", table.loc[:, list(METADATA_COLUMNS)]), ("split", table.loc[:, list(SPLIT_COLUMNS)]),
                       ("chexpert", studies.loc[:, list(CHEXPERT_COLUMNS)])):
        runner.put(root, f"mimic-cxr-2.0.0-{name}.csv.gz", runner.gz_bytes(runner.csv_bytes(part)))
