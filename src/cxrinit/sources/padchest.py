"""PadChest: ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv(.gz)`` -> manifest.

Images: ``<ImageDir>/<ImageID>`` (folders ``0/`` .. ``54/``). Only the columns below are parsed
(the free-text report columns are skipped for speed).

- ``image_id``: ``ImageID`` without ``.png``; ``patient_id`` ``PatientID``; ``study_id`` ``StudyID``.
- ``age``: study year (``StudyDate_DICOM``, YYYYMMDD) - ``PatientBirth`` (a year), NA if either is
  blank. ``sex``: ``PatientSex_DICOM`` M/F; O and blank -> NA.
- ``view_native``: ``Projection`` (PA, L, AP, AP_horizontal, COSTAL, EXCLUDE, UNK).
- ``official_split``: NA (PadChest publishes no split).
- labels: ``terms`` / ``terms_raw`` / ``label_quality`` from ``Labels`` (a Python-list-shaped
  string, parsed with ``ast.literal_eval`` and a comma-split fallback; never ``eval``). A missing
  ``Labels`` cell keeps the image with ``terms`` NA and ``label_quality`` ``missing`` (counted).
- extras (as written, NA where absent): ``study_date``, ``method_projection`` (MethodProjection),
  ``pediatric`` (Pediatric), ``method_label`` (MethodLabel: Physician / RNN_model),
  ``view_position_dicom`` (ViewPosition_DICOM).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (Rejections, SourceTable, categorical, finalize, locate, numeric, parsed, read_csv,
                   strip_extension, text)
from .terms import parse_terms
from .registry import register_source
from .views import check_view_map

SOURCE = "padchest"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"PA": "PA", "AP": "AP", "AP_horizontal": "AP", "L": "LATERAL", "COSTAL": "OTHER",
                            "EXCLUDE": "OTHER", "UNK": "OTHER", "": "OTHER"}
#: What the root folder holds (shown when it is missing).
LAYOUT = "0/ ... 54/ PNG folders and PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
LABELS_FILE = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
_REQUIRED = ("ImageID", "ImageDir", "StudyDate_DICOM", "StudyID", "PatientID", "PatientBirth", "PatientSex_DICOM",
             "Projection", "Labels")
_EXTRAS = {"MethodProjection": "method_projection", "Pediatric": "pediatric", "MethodLabel": "method_label",
           "ViewPosition_DICOM": "view_position_dicom"}
_DATE = re.compile(r"(\d{4})(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:\.0+)?")
_FIX = f"use {LABELS_FILE} as released"


def _year(date: str) -> float:
    match = _DATE.fullmatch(date)
    if match is None:
        raise ValueError(date)
    return float(match[1])


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=True)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, source: str = SOURCE,
         labels_file: str | None = None) -> SourceTable:
    """Read PadChest's label table under ``root`` (see the module docstring)."""
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    counts: dict[str, int] = {}
    names = [labels_file] if labels_file else [LABELS_FILE, LABELS_FILE + ".gz"]
    path = locate(root, names, "PadChest label table",
                  "point the PadChest root at the folder holding the label CSV and the image folders 0/ .. 54/")
    table = read_csv(root, path, required=_REQUIRED, optional=tuple(_EXTRAS), counts=counts)
    df = table.df

    image = text(table, "ImageID", fix=_FIX)
    folder = numeric(table, "ImageDir", integer=True, blank_ok=False, fix=_FIX)
    rows = pd.DataFrame({"image_id": strip_extension(image),
                         "path": folder.astype(np.int64).astype(str) + "/" + image,
                         "patient_id": text(table, "PatientID", fix=_FIX),
                         "study_id": text(table, "StudyID", fix=_FIX),
                         "view_native": text(table, "Projection", required=False)}, index=df.index)
    # sex, study date and birth year: no later stage needs them; unexpected values are read as missing, counted
    rows["sex"] = categorical(table, "PatientSex_DICOM", {"M": "M", "F": "F", "O": None, "": None}, tolerate=counts)

    year = parsed(table, "StudyDate_DICOM", _year, problem="date is not YYYYMMDD", fix=_FIX, tolerate=counts)
    birth = numeric(table, "PatientBirth", fix="PatientBirth is a year (e.g. 1932); leave blank if unknown",
                    tolerate=counts)
    rows["age"] = year - birth
    rows["official_split"] = pd.Series(pd.NA, index=df.index, dtype="str")

    terms, quality, notes = parse_terms(df["Labels"], "pylist")
    rows["terms"], rows["terms_raw"], rows["label_quality"] = terms, df["Labels"].astype("str"), quality
    for note, n in sorted(notes.items()):
        counts[f"note/label_quality/{note}"] = n
    rows["study_date"] = text(table, "StudyDate_DICOM", required=False).where(year.notna())  # unreadable: missing
    for column, extra in _EXTRAS.items():
        rows[extra] = (text(table, column, required=False) if column in df.columns
                       else pd.Series(pd.NA, index=df.index, dtype="str"))
    rows["_table"], rows["_record"] = 0, df.index
    return finalize(source, rows, view_map=view_map, tables=[table], rejections=Rejections(), counts=counts,
                    started=started)


__all__ = ["LAYOUT", "VIEW_MAP", "LABELS_FILE", "SOURCE", "read"]
