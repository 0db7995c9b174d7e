"""CheXpert v1.0 as downloaded (full-size prefix, small-release image sizes).

Layout under the root (the folder that contains ``CheXpert-v1.0/``)::

    CheXpert-v1.0/train/patient00001/study1/view1_frontal.jpg   (…_lateral.jpg)
    CheXpert-v1.0/valid/patient64541/study1/view1_frontal.jpg
    CheXpert-v1.0/train.csv   CheXpert-v1.0/valid.csv

CSV ``Path`` values are relative to the root (they start with ``CheXpert-v1.0/``). Labels are
per study, from the report labeler (1.0 / 0.0 / -1.0 / blank) in train.csv and expert-read
(1.0 / 0.0 only) in valid.csv. Validation patients are numbered after the training ones, as in
the release. 8-bit gray JPEGs about 320x390.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import acquisition, common, labeler, runner
from cxrinit.demo.writers.acquisition import Profile, Renderer

NAME = "chexpert"
PREFIX = "CheXpert-v1.0"
COLUMNS: tuple[str, ...] = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *labeler.OBSERVATIONS)
BROKEN = ("truncated", "missing", "zero_bytes", "wrong_format")
PROFILE = Profile(height=(360, 420), width=(320, 320), gamma=(0.8, 1.3), noise=(0.005, 0.02), blur=(0.3, 1.0))
SEX = {"M": "Male", "F": "Female"}


def plan(specs: Sequence[ImageSpec], seed: int, n_broken: int = 4, *, scale: float = 1.0) -> pd.DataFrame:
    """Decide every CheXpert path, split, view column and label (no pixels)."""
    common.check_specs(specs, NAME)
    gen = common.rng(seed, NAME)
    split_of = common.patient_splits([s.patient_index for s in specs], {"train": 0.85, "valid": 0.15}, gen)
    # training patients first, then validation patients, each in cohort order
    order = sorted(split_of, key=lambda p: (split_of[p] != "train", p))
    number = {p: k + 1 for k, p in enumerate(order)}
    study_no: dict[int, int] = {}
    studies_of: dict[int, int] = {}
    view_no: dict[int, int] = {}
    labels: dict[int, dict[str, float]] = {}
    rows: list[dict] = []
    for s in specs:
        split = split_of[s.patient_index]
        if s.study_index not in study_no:
            studies_of[s.patient_index] = studies_of.get(s.patient_index, 0) + 1
            study_no[s.study_index] = studies_of[s.patient_index]
            labels[s.study_index] = labeler.noisy(s, gen) if split == "train" else labeler.exact(s)
        view_no[s.study_index] = view_no.get(s.study_index, 0) + 1
        patient = f"patient{number[s.patient_index]:05d}"
        frontal = s.view != "LATERAL"
        path = (f"{PREFIX}/{split}/{patient}/study{study_no[s.study_index]}/"
                f"view{view_no[s.study_index]}_{'frontal' if frontal else 'lateral'}.jpg")
        rows.append({
            "spec_index": s.image_index, "path": path, "native_id": path, "patient_id": patient,
            "study_id": f"{patient}/study{study_no[s.study_index]}", "view": s.view,
            "findings": common.findings_str(s), "broken": "", "broken_detail": "", "split": split,
            "sex": s.sex, "age": s.age, **acquisition.draw(PROFILE, gen, scale),
            "pixel_seed": common.derive_seed(seed, NAME, "pixels", s.image_index),
            "quality": int(gen.integers(85, 96)),
            "Path": path, "Sex": SEX[s.sex], "Age": s.age, "Frontal/Lateral": "Frontal" if frontal else "Lateral",
            "AP/PA": s.view if frontal else "", **labels[s.study_index],
        })
    broken = common.assign_broken(len(rows), BROKEN, n_broken, gen)
    for row, kind in zip(rows, broken):
        row["broken"] = kind
        row["broken_detail"] = _detail(kind)
    return common.finish(rows, ["quality", *COLUMNS], NAME, 0)


def _detail(kind: str) -> str:
    return {
        "": "",
        "truncated": "JPEG cut short inside the scan",
        "wrong_format": "PNG data saved as .jpg",
        "missing": "listed in the CSV, file not present",
        "zero_bytes": "empty file",
    }[kind]


def _encode(row: dict, spec: ImageSpec, render: Renderer) -> bytes:
    img = acquisition.render_checked(render, spec, (int(row["height"]), int(row["width"])))
    px = acquisition.quantize(acquisition.acquire(img, row, int(row["pixel_seed"])), 8)
    if row["broken"] == "wrong_format":
        return acquisition.encode_png(px)
    return acquisition.encode_jpeg(px, int(row["quality"]))


def write(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer, workers: int = 1) -> None:
    """Write the JPEG tree, then ``train.csv`` and ``valid.csv``."""
    root = runner.check_inputs(plan, specs, root, NAME, BROKEN)
    runner.write_images(plan, specs, root, render, _encode, workers, NAME)
    for split in ("train", "valid"):
        table = plan.loc[plan["split"] == split, list(COLUMNS)]
        runner.put(root, f"{PREFIX}/{split}.csv", runner.csv_bytes(table))
