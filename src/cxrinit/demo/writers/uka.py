"""UKA-CXR (University Hospital Aachen ICU, private) in the layout the demo fixes for it.

Layout under the root::

    images/<image_id>.dcm     one bedside DICOM per image (frontal films only; laterals skipped)
    labels.csv                image_id, split, subset, 8 graded findings, healthy,
                              patient_id, age, sex

``image_id`` is an integer (the archive's request number). ``split`` is train/test,
patient-wise. ``subset`` is the storage batch the authors' scripts record: ``p1``, ``p2``, …
for training images (fixed-size chunks) and ``test`` for test images.

Grades (STUDY.md): 0 = not graded, 1..5 increasing severity. A finding the film shows gets
``1 + severity`` (capped at 5; a reader shifts it by one now and then); one it does not show
is mostly 1, sometimes 0 (not graded) or 2 (questionable). Congestion comes from edema,
pneumonic infiltrates from pneumonia or consolidation; sides are the patient's. ``healthy``
is 1 when no grade reaches 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import acquisition, common, dicom, runner
from cxrinit.demo.writers.acquisition import Profile, Renderer

NAME = "uka"
GRADED: tuple[str, ...] = (
    "cardiomegaly", "congestion", "pleural_effusion_right", "pleural_effusion_left", "pneumonic_infiltrates_right",
    "pneumonic_infiltrates_left", "atelectasis_right", "atelectasis_left",
)
COLUMNS: tuple[str, ...] = ("image_id", "split", "subset", *GRADED, "healthy", "patient_id", "age", "sex")
#: graded column -> (phantom findings, side or None)
SOURCES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "cardiomegaly": (("cardiomegaly",), None),
    "congestion": (("edema",), None),
    "pleural_effusion_right": (("pleural_effusion",), "right"),
    "pleural_effusion_left": (("pleural_effusion",), "left"),
    "pneumonic_infiltrates_right": (("pneumonia", "consolidation"), "right"),
    "pneumonic_infiltrates_left": (("pneumonia", "consolidation"), "left"),
    "atelectasis_right": (("atelectasis",), "right"),
    "atelectasis_left": (("atelectasis",), "left"),
}
BROKEN = ("no_pixel_data", "missing", "truncated", "zero_bytes", "wrong_format")
SUBSET_SIZE = 12  # training images per storage batch (12,000 in the real archive)
PROFILE = Profile(height=(512, 600), width=(512, 600), gamma=(0.9, 1.4), noise=(0.01, 0.03), blur=(0.3, 1.2))
STYLE = dicom.DicomStyle(
    bits={12: 0.7, 14: 0.3},
    photometric={"MONOCHROME2": 0.85, "MONOCHROME1": 0.15},
    transfer_syntax={"explicit_le": 0.7, "jpeg2000_lossless": 0.3},
    voi={"": 0.2, "window": 0.8},
    rescale=0.0,
    modality={"DX": 0.2, "CR": 0.8},
    manufacturers=("Philips Medical Systems", "SIEMENS"),
)


def _grade(spec: ImageSpec, names: tuple[str, ...], side: str | None, gen: np.random.Generator) -> int:
    sev = max((f.severity for f in spec.findings if f.name in names and (side is None or f.side in (side, "both"))),
              default=0)
    if not sev:
        return int(gen.choice([1, 0, 2], p=[0.80, 0.15, 0.05]))
    grade = min(5, 1 + sev)
    if gen.random() < 0.1:
        grade = int(np.clip(grade + gen.choice([-1, 1]), 1, 5))
    return grade


def plan(specs: Sequence[ImageSpec], seed: int, n_broken: int = 4, *, scale: float = 1.0) -> pd.DataFrame:
    """Decide every UKA image id, split, subset, grade and DICOM encoding (no pixels)."""
    common.check_specs(specs, NAME)
    kept, skipped = common.keep_views(specs, ("AP", "PA"), NAME)
    gen = common.rng(seed, NAME)
    split_of = common.patient_splits([s.patient_index for s in kept], {"train": 0.8, "test": 0.2}, gen)
    patient_ids = {p: common.digits(gen, 9) for p in sorted(split_of)}
    image_ids: set[str] = set()
    rows: list[dict] = []
    n_train = 0
    for s in kept:
        image_id = common.digits(gen, 8)
        while image_id in image_ids:
            image_id = common.digits(gen, 8)
        image_ids.add(image_id)
        split = split_of[s.patient_index]
        subset = "test" if split == "test" else f"p{n_train // SUBSET_SIZE + 1}"
        n_train += split == "train"
        grades = {col: _grade(s, *SOURCES[col], gen) for col in GRADED}
        rows.append({
            "spec_index": s.image_index, "path": f"images/{image_id}.dcm", "native_id": image_id,
            "patient_id": patient_ids[s.patient_index], "study_id": image_id, "view": s.view,
            "findings": common.findings_str(s), "broken": "", "broken_detail": "", "split": split,
            "sex": s.sex, "age": s.age, **acquisition.draw(PROFILE, gen, scale),
            "pixel_seed": common.derive_seed(seed, NAME, "pixels", s.image_index),
            "view_position": s.view, "dicom_patient_id": patient_ids[s.patient_index], "dicom_sex": s.sex,
            "dicom_age": dicom.age_string(s.age), "study_date": _date(gen),
            "study_instance_uid": dicom.uid(seed, NAME, "study", s.study_index),
            "series_instance_uid": dicom.uid(seed, NAME, "series", s.image_index),
            "sop_instance_uid": dicom.uid(seed, NAME, "sop", s.image_index),
            "subset": subset, **grades, "healthy": int(all(g < 3 for g in grades.values())),
        })
    broken = common.assign_broken(len(rows), BROKEN, n_broken, gen)
    for row, kind in zip(rows, broken):
        row["broken"] = kind
        row["broken_detail"] = _detail(kind)
    dicom.plan_dicom(rows, STYLE, gen, [i for i, k in enumerate(broken) if k == ""])
    return common.finish(rows, [*dicom.DICOM_COLUMNS, "subset", *GRADED, "healthy"], NAME, skipped)


def _date(gen: np.random.Generator) -> str:
    day = np.datetime64("2009-01-01") + int(gen.integers(0, 365 * 11))
    return str(day).replace("-", "")


def _detail(kind: str) -> str:
    return {
        "": "",
        "no_pixel_data": "DICOM header without Pixel Data",
        "truncated": "DICOM cut short inside Pixel Data",
        "wrong_format": "PNG export saved as .dcm",
        "missing": "listed in labels.csv, file not present",
        "zero_bytes": "empty file",
    }[kind]


def _encode(row: dict, spec: ImageSpec, render: Renderer) -> bytes:
    if row["broken"] == "wrong_format":
        img = acquisition.render_checked(render, spec, (int(row["height"]), int(row["width"])))
        x = acquisition.acquire(img, row, int(row["pixel_seed"]))
        return acquisition.encode_png(acquisition.quantize(x, 8))
    return dicom.radiograph(row, spec, render)


def write(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer, workers: int = 1) -> None:
    """Write ``images/*.dcm``, then ``labels.csv``."""
    root = runner.check_inputs(plan, specs, root, NAME, BROKEN)
    runner.write_images(plan, specs, root, render, _encode, workers, NAME)
    table = pd.DataFrame({
        "image_id": plan["native_id"].astype("int64"), "split": plan["split"], "subset": plan["subset"],
        **{col: plan[col].astype(int) for col in (*GRADED, "healthy")},
        "patient_id": plan["patient_id"].astype("int64"), "age": plan["age"].astype(int), "sex": plan["sex"],
    }, columns=list(COLUMNS))
    runner.put(root, "labels.csv", runner.csv_bytes(table))
