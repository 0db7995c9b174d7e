"""NIH ChestX-ray14 as downloaded.

Layout under the root::

    images_001/images/00000001_000.png …  images_0NN/images/…   (contiguous in name order)
    Data_Entry_2017_v2020.csv     11 columns; the bracketed headers are split by their comma
    train_val_list.txt            file names, one per line, patient-wise
    test_list.txt

Frontal films only (lateral specs are skipped and counted). 8-bit gray PNGs, a few RGBA.
``Finding Labels`` are NLP-mined from reports, so they miss findings now and then and call
Infiltration too eagerly; names are joined by ``|`` in alphabetical order, or ``No Finding``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import acquisition, common, runner
from cxrinit.demo.writers.acquisition import Profile, Renderer

NAME = "nih"
COLUMNS: tuple[str, ...] = (
    "Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender", "View Position",
    "OriginalImage[Width", "Height]", "OriginalImagePixelSpacing[x", "y]",
)
LABELS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
    "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)
FINDING_LABELS: dict[str, str] = {
    "atelectasis": "Atelectasis", "cardiomegaly": "Cardiomegaly", "pleural_effusion": "Effusion", "mass": "Mass",
    "nodule": "Nodule", "pneumonia": "Pneumonia", "pneumothorax": "Pneumothorax", "consolidation": "Consolidation",
    "edema": "Edema", "emphysema": "Emphysema", "fibrosis": "Fibrosis", "pleural_thickening": "Pleural_Thickening",
    "hernia": "Hernia",
}
BROKEN = ("truncated", "wrong_format", "zero_bytes", "missing")
SIZE = 256  # demo PNG side (the release has 1024)
MAX_FOLDERS = 12
PROFILE = Profile(height=(SIZE, SIZE), width=(SIZE, SIZE), gamma=(0.7, 1.1), noise=(0.003, 0.012), blur=(0.2, 0.9))


def _labels(spec: ImageSpec, gen) -> str:
    found = set()
    for f in spec.findings:
        lab = FINDING_LABELS.get(f.name)
        if lab and gen.random() < min(0.97, 0.7 + 0.06 * f.severity):  # the report miner misses some
            found.add(lab)
        if f.name == "pneumonia" and gen.random() < 0.5:
            found.add("Infiltration")
    if gen.random() < 0.04:
        found.add("Infiltration")
    return "|".join(sorted(found)) or "No Finding"


def plan(specs: Sequence[ImageSpec], seed: int, n_broken: int = 4, *, scale: float = 1.0) -> pd.DataFrame:
    """Decide every NIH file name, folder, split, label string and PNG flavour (no pixels)."""
    common.check_specs(specs, NAME)
    kept, skipped = common.keep_views(specs, ("PA", "AP"), NAME)
    gen = common.rng(seed, NAME)
    numbers: dict[int, int] = {}
    for s in kept:
        numbers.setdefault(s.patient_index, len(numbers) + 1)
    split_of = common.patient_splits(list(numbers), {"train_val": 0.75, "test": 0.25}, gen)
    follow_up: dict[int, int] = {}
    rows: list[dict] = []
    for s in kept:
        pid = numbers[s.patient_index]
        fu = follow_up.get(pid, 0)
        follow_up[pid] = fu + 1
        name = f"{pid:08d}_{fu:03d}.png"
        width0, height0 = (int(v) for v in gen.choice([(2500, 2048), (2048, 2500), (2992, 2991), (3056, 2544)]))
        spacing = float(gen.choice([0.139, 0.143, 0.168]))
        rows.append({
            "spec_index": s.image_index, "path": "", "native_id": name, "patient_id": str(pid),
            "study_id": name[:-4], "view": s.view, "findings": common.findings_str(s), "broken": "",
            "broken_detail": "", "split": split_of[s.patient_index], "sex": s.sex, "age": s.age,
            **acquisition.draw(PROFILE, gen, scale),
            "pixel_seed": common.derive_seed(seed, NAME, "pixels", s.image_index),
            "Image Index": name, "Finding Labels": _labels(s, gen), "Follow-up #": fu, "Patient ID": pid,
            "Patient Age": s.age, "Patient Gender": s.sex, "View Position": s.view,
            "OriginalImage[Width": width0, "Height]": height0,
            "OriginalImagePixelSpacing[x": spacing, "y]": spacing, "rgba": False,
        })
    # folders hold contiguous runs of the sorted file names, as the release's tarballs do
    order = sorted(range(len(rows)), key=lambda i: rows[i]["Image Index"])
    n_folders = min(MAX_FOLDERS, max(2, math.ceil(len(rows) / 10))) if rows else 1
    per = max(1, math.ceil(len(rows) / n_folders))
    for rank, i in enumerate(order):
        rows[i]["path"] = f"images_{rank // per + 1:03d}/images/{rows[i]['Image Index']}"

    broken = common.assign_broken(len(rows), BROKEN, n_broken, gen)
    readable = [i for i, k in enumerate(broken) if k == ""]
    rgba = common.cover([bool(gen.random() < 0.08) for _ in rows], [True, False], readable, gen)
    for row, kind, is_rgba in zip(rows, broken, rgba):
        row["broken"] = kind
        row["broken_detail"] = _detail(kind)
        row["rgba"] = bool(is_rgba) and not kind
    return common.finish(rows, [*COLUMNS, "rgba"], NAME, skipped)


def _detail(kind: str) -> str:
    return {
        "": "",
        "truncated": "PNG cut short inside the image data",
        "wrong_format": "JPEG data saved as .png",
        "missing": "listed in Data_Entry_2017_v2020.csv, file not present",
        "zero_bytes": "empty file",
    }[kind]


def _encode(row: dict, spec: ImageSpec, render: Renderer) -> bytes:
    img = acquisition.render_checked(render, spec, (int(row["height"]), int(row["width"])))
    px = acquisition.quantize(acquisition.acquire(img, row, int(row["pixel_seed"])), 8)
    if row["broken"] == "wrong_format":
        return acquisition.encode_jpeg(px, 90)
    return acquisition.encode_png(px, rgba=bool(row["rgba"]))


def write(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer, workers: int = 1) -> None:
    """Write the PNG folders, then the data-entry CSV and the two split lists."""
    root = runner.check_inputs(plan, specs, root, NAME, BROKEN)
    runner.write_images(plan, specs, root, render, _encode, workers, NAME)
    table = plan.sort_values("Image Index", kind="stable")
    runner.put(root, "Data_Entry_2017_v2020.csv", runner.csv_bytes(table.loc[:, list(COLUMNS)]))
    for split, fname in (("train_val", "train_val_list.txt"), ("test", "test_list.txt")):
        names = table.loc[table["split"] == split, "Image Index"]
        runner.put(root, fname, "".join(f"{n}\n" for n in names).encode())
