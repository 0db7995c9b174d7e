"""UKA-CXR (private, Aachen ICU): ``labels.csv`` + ``images/<image_id>.dcm`` -> manifest.

Our fixed layout (file, folder and extension are options): one table with ``image_id, split,
subset``, eight severity-graded findings (per side where the finding has one), ``healthy`` and
``patient_id, age, sex``; optional ``study_id`` (else each image is its own study).

- labels: ``label:<column>`` integer grades 0..5 as written (0 = not graded, 1..5 increasing
  severity; which grades count as positive is harmonization's choice) and ``label:healthy`` 0/1.
  A missing grade (blank or a marker such as ``nan``) is a missing label (NaN, masked), never
  "not graded"; an out-of-range grade is an error: the table is ours, so it gets fixed at the source.
- ``official_split``: the ``split`` column (train/val/test and common spellings; blank -> NA).
- ``sex``: M/F (or male/female, any case), blank -> NA. ``view_native``: none (bedside AP films:
  the default map says AP).
- extras: ``subset`` (as written; NA if the table lacks it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (LABEL_PREFIX, Rejections, SourceTable, categorical, finalize, locate, numeric, read_csv,
                   split_values, text)
from .registry import register_source
from .views import check_view_map

SOURCE = "uka"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"": "AP"}
#: What the root folder holds (shown when it is missing).
LAYOUT = "labels.csv and images/<image_id>.dcm"
GRADED: tuple[str, ...] = (
    "cardiomegaly", "congestion", "pleural_effusion_right", "pleural_effusion_left", "pneumonic_infiltrates_right",
    "pneumonic_infiltrates_left", "atelectasis_right", "atelectasis_left",
)
_SEX = {"M": "M", "F": "F", "male": "M", "female": "F", "": None}
_FIX = "correct labels.csv (grades are integers 0..5, healthy is 0 or 1)"


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=True)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, source: str = SOURCE,
         labels_file: str = "labels.csv", image_dir: str = "images", image_ext: str = ".dcm") -> SourceTable:
    """Read UKA-CXR's label table under ``root`` (see the module docstring)."""
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    counts: dict[str, int] = {}
    path = locate(root, [labels_file], "UKA label table",
                  f"point the UKA root at the folder holding {labels_file} and {image_dir}/")
    table = read_csv(root, path, required=("image_id", "split", *GRADED, "healthy", "patient_id", "age", "sex"),
                     optional=("subset", "study_id"), counts=counts)
    df = table.df
    image_id = text(table, "image_id")
    rows = pd.DataFrame({"image_id": image_id, "path": image_dir + "/" + image_id + image_ext,
                         "patient_id": text(table, "patient_id")}, index=df.index)
    rows["study_id"] = text(table, "study_id", required=False).fillna(image_id) if "study_id" in df else image_id
    rows["view_native"] = pd.Series(pd.NA, index=df.index, dtype="str")
    rows["sex"] = categorical(table, "sex", _SEX, casefold=True, fix="use M or F, or leave blank", tolerate=counts)
    rows["age"] = numeric(table, "age", fix="age is in years; leave blank if unknown", tolerate=counts)
    rows["official_split"] = split_values(table, "split")
    # a missing grade is a missing label (NaN, masked downstream), never "not graded"
    for name in GRADED:
        rows[f"{LABEL_PREFIX}{name}"] = numeric(table, name, allowed=range(6), fix=_FIX)
    rows[f"{LABEL_PREFIX}healthy"] = numeric(table, "healthy", allowed=(0, 1), fix=_FIX)
    rows["subset"] = text(table, "subset", required=False) if "subset" in df else pd.Series(
        pd.NA, index=df.index, dtype="str")
    rows["_table"], rows["_record"] = 0, df.index
    return finalize(source, rows, view_map=view_map, tables=[table], rejections=Rejections(), counts=counts,
                    started=started)


__all__ = ["LAYOUT", "VIEW_MAP", "GRADED", "SOURCE", "read"]
