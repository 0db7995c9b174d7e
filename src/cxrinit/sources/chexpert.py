"""CheXpert v1.0: ``<folder>/train.csv`` + ``<folder>/valid.csv`` -> manifest.

The root CONTAINS ``CheXpert-v1.0/`` or ``CheXpert-v1.0-small/`` (pass ``folder=`` when both are
there); ``Path`` values start with that folder name and are used as the path relative to the root.
A ``Path`` whose prefix is the other release's folder name (a renamed download) is rewritten to the
folder found (``note/path_prefix_rewritten``).

- ``image_id``: the path without the top folder and the extension
  (``train/patient00001/study1/view1_frontal``), so it is the same for the full and small releases.
- ``patient_id`` ``patient00001`` and ``study_id`` ``patient00001/study1``, from the path.
- ``sex``: Male/Female -> M/F, Unknown/blank -> NA. ``official_split``: train.csv -> train,
  valid.csv -> val.
- ``view_native``: ``Frontal/Lateral`` and ``AP/PA`` joined by ``|`` (``Frontal|AP``; ``Frontal`` or
  ``Lateral`` alone when AP/PA is blank).
- labels: every column after ``AP/PA`` as ``label:<name>``, float 1.0 / 0.0 / -1.0 / NaN (blank).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (LABEL_PREFIX, CsvTable, Rejections, SourceFormatError, SourceTable, categorical,
                   check_paths, extract, finalize, numeric, read_csv, text)
from .registry import register_source
from .views import check_view_map

SOURCE = "chexpert"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"Frontal|PA": "PA", "Frontal|AP": "AP", "Frontal": "OTHER", "Frontal|*": "OTHER",
                            "Lateral": "LATERAL", "Lateral|*": "LATERAL"}
#: What the root folder holds (shown when it is missing).
LAYOUT = "CheXpert-v1.0/ (or CheXpert-v1.0-small/) with train.csv, valid.csv, train/, valid/"
FOLDERS: tuple[str, ...] = ("CheXpert-v1.0", "CheXpert-v1.0-small")
BASE_COLUMNS: tuple[str, ...] = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")
LABELS: tuple[str, ...] = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)
_PATH = r"^(?P<top>[^/]+)/(?P<rest>[^/]+/(?P<patient>patient[^/]+)/(?P<study>study[^/]+)/[^/]+)$"
_FIX = "use the CSV files of the CheXpert v1.0 release"


def find_folder(root: Path, folder: str | None) -> str:
    """Which release folder under ``root`` holds train.csv (``folder`` forces one)."""
    present = [f for f in ([folder] if folder else FOLDERS) if (root / f / "train.csv").is_file()]
    if not present:
        looked = ", ".join(f"{f}/train.csv" for f in ([folder] if folder else FOLDERS))
        raise SourceFormatError(root, f"no CheXpert release folder found (looked for {looked})",
                                fix="point the CheXpert root at the folder that CONTAINS CheXpert-v1.0/")
    if len(present) > 1:
        raise SourceFormatError(root, f"both {present[0]}/ and {present[1]}/ are present",
                                fix="choose one with the reader option folder=")
    return present[0]


def _rows(table: CsvTable, folder: str, split: str, labels: list[str], counts: dict[str, int]) -> pd.DataFrame:
    path = text(table, "Path", fix=_FIX)
    _, escape = check_paths(path)
    parts = extract(path, _PATH)
    bad = (parts["top"].isna() | ~parts["top"].isin(FOLDERS)) & ~escape
    if bad.any():
        table.fail(bad, "Path", f"path is not like {folder}/train/patient00001/study1/view1_frontal.jpg",
                   "use the CSV as released; the root must contain the release folder")
    other = parts["top"].isin(FOLDERS) & (parts["top"] != folder)
    if other.any():
        counts["note/path_prefix_rewritten"] = counts.get("note/path_prefix_rewritten", 0) + int(other.sum())
        path = path.where(~other, folder + "/" + parts["rest"])
    # Escaping paths are kept here so that finalize() rejects them with their reason.
    rows = pd.DataFrame({
        "image_id": parts["rest"].str.replace(r"\.[^./]*$", "", regex=True).where(~escape, path),
        "path": path,
        "patient_id": parts["patient"],
        "study_id": parts["patient"] + "/" + parts["study"],
    }, index=table.df.index)
    orientation = text(table, "Frontal/Lateral", required=False).fillna("")
    projection = text(table, "AP/PA", required=False).fillna("")
    rows["view_native"] = (orientation + np.where(projection != "", "|", "") + projection).astype("str")
    # sex and age: no later stage needs them, an unexpected value is read as missing and counted
    rows["sex"] = categorical(table, "Sex", {"Male": "M", "Female": "F", "Unknown": None, "": None}, tolerate=counts)
    rows["age"] = numeric(table, "Age", fix=_FIX, tolerate=counts)
    rows["official_split"] = split
    for name in labels:
        rows[f"{LABEL_PREFIX}{name}"] = numeric(table, name, allowed=(1, 0, -1), fix=_FIX)
    rows["_record"] = table.df.index
    return rows


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=True)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, source: str = SOURCE,
         folder: str | None = None) -> SourceTable:
    """Read CheXpert's train.csv and valid.csv under ``root`` (see the module docstring)."""
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    counts: dict[str, int] = {}
    folder = find_folder(root, folder)
    train = read_csv(root, root / folder / "train.csv", required=BASE_COLUMNS + LABELS, keep_all=True,
                     counts=counts)
    labels = [c for c in train.df.columns if c not in BASE_COLUMNS]
    valid = read_csv(root, root / folder / "valid.csv", required=BASE_COLUMNS + tuple(labels), keep_all=True,
                     counts=counts)
    extra = [c for c in valid.df.columns if c not in BASE_COLUMNS and c not in labels]
    if extra:
        raise SourceFormatError(valid.path, f"column(s) not in {train.name}: {extra}", column=extra[0], line=1,
                                fix="both files must carry the same label columns")
    rows = pd.concat([_rows(train, folder, "train", labels, counts).assign(_table=0),
                      _rows(valid, folder, "val", labels, counts).assign(_table=1)], ignore_index=True)
    return finalize(source, rows, view_map=view_map, tables=[train, valid], rejections=Rejections(),
                    counts=counts, started=started)


__all__ = ["LAYOUT", "VIEW_MAP", "BASE_COLUMNS", "FOLDERS", "LABELS", "SOURCE", "find_folder", "read"]
