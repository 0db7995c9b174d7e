"""MIMIC-CXR-JPG 2.x: metadata + split + chexpert label files -> manifest.

Files (``.csv.gz`` or plain ``.csv``): ``mimic-cxr-2.0.0-metadata`` (one row per image),
``mimic-cxr-2.0.0-split`` (one row per image; train / validate / test -> train / val / test) and
``mimic-cxr-2.0.0-chexpert`` (one row per study). Metadata and split are joined on ``dicom_id``
(their subject and study must agree, else an error naming both lines); labels on
``(subject_id, study_id)``, so every image of a study carries the study's labels. An image whose
study has no label row is rejected (``no_label_row``); an image missing from the split file keeps
NA (``note/not_in_split_file``).

- ``image_id`` = ``dicom_id``; ``patient_id`` = ``subject_id``; ``study_id`` = ``study_id``
  (digits as written); ``path`` = ``files/p<first two digits>/p<subject>/s<study>/<dicom_id>.jpg``.
- sex and age: not in these files (NA). ``view_native``: ``ViewPosition``.
- labels: the 14 CheXpert columns as ``label:<name>``, float 1.0 / 0.0 / -1.0 / NaN (blank).
- extras: ``study_date`` and ``study_time`` (as written, e.g. ``21800506``), ``procedure``
  (``PerformedProcedureStepDescription``); NA where the metadata file lacks them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (LABEL_PREFIX, CsvTable, Rejections, SourceFormatError, SourceTable, categorical,
                   finalize, locate, member, numeric, parsed, read_csv, text, where)
from .registry import register_source
from .views import check_view_map

SOURCE = "mimic"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"PA": "PA", "AP": "AP", "LATERAL": "LATERAL", "LL": "LATERAL", "": "OTHER", "*": "OTHER"}
#: What the root folder holds (shown when it is missing).
LAYOUT = "files/pXX/pNNNNNNNN/sNNNNNNNN/*.jpg and mimic-cxr-2.0.0-{metadata,chexpert,split}.csv.gz"
PREFIX = "mimic-cxr-2.0.0-"
LABELS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
    "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
    "Pneumothorax", "Support Devices",
)
_EXTRAS = {"StudyDate": "study_date", "StudyTime": "study_time", "PerformedProcedureStepDescription": "procedure"}
_FIX = "use the MIMIC-CXR-JPG 2.x metadata files as released"


def _date(text: str) -> float:
    """YYYYMMDD (MIMIC's dates are shifted into 2100-2200, still real calendar dates)."""
    if len(text) != 8 or not text.isdigit():
        raise ValueError(text)
    pd.Timestamp(year=int(text[:4]), month=int(text[4:6]), day=int(text[6:]))  # ValueError if no such day
    return float(text)


def _time(text: str) -> float:
    """HHMMSS with optional fraction (``143055.123``), as DICOM TM.

    The release stores StudyTime as a number, so times before 10:00 lose their leading zero
    (``33423.146`` is 03:34:23.146): the whole part is read right-aligned, HHMMSS padded to six digits.
    """
    whole = text.split(".", 1)[0]
    if not whole.isdigit() or len(whole) > 6:
        raise ValueError(text)
    padded = whole.zfill(6)
    if int(padded[:2]) > 23 or int(padded[2:4]) > 59 or int(padded[4:6]) > 60:
        raise ValueError(text)
    return float(text)


_FORMATS = {"StudyDate": (_date, "date is not YYYYMMDD"), "StudyTime": (_time, "time is not HHMMSS(.fff)")}


def _find(root: Path, kind: str) -> Path:
    return locate(root, [f"{PREFIX}{kind}.csv.gz", f"{PREFIX}{kind}.csv"], f"MIMIC-CXR-JPG {kind} file",
                  "point the MIMIC root at the folder holding files/ and the mimic-cxr-2.0.0-*.csv.gz files")


def _ids(table: CsvTable, column: str) -> pd.Series:
    values = text(table, column, fix=_FIX)
    bad = ~values.str.fullmatch(r"\d+")
    if bad.any():
        table.fail(bad, column, "id is not a number", _FIX)
    return values


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=False)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, source: str = SOURCE) -> SourceTable:
    """Read MIMIC-CXR-JPG's metadata, split and CheXpert labels under ``root``."""
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    counts: dict[str, int] = {}
    rejections = Rejections()
    meta = read_csv(root, _find(root, "metadata"), required=("dicom_id", "subject_id", "study_id", "ViewPosition"),
                    optional=tuple(_EXTRAS), counts=counts)
    split = read_csv(root, _find(root, "split"), required=("dicom_id", "study_id", "subject_id", "split"),
                     counts=counts)
    labels = read_csv(root, _find(root, "chexpert"), required=("subject_id", "study_id", *LABELS), keep_all=True,
                      counts=counts)
    tables = [meta, split, labels]

    rows = pd.DataFrame({"image_id": text(meta, "dicom_id", fix=_FIX), "patient_id": _ids(meta, "subject_id"),
                         "study_id": _ids(meta, "study_id")}, index=meta.df.index)
    rows["view_native"] = text(meta, "ViewPosition", required=False)
    rows["sex"] = pd.Series(pd.NA, index=rows.index, dtype="str")
    rows["age"] = np.nan

    sp = pd.DataFrame({"dicom_id": text(split, "dicom_id", fix=_FIX), "subject": _ids(split, "subject_id"),
                       "study": _ids(split, "study_id"),
                       "split": categorical(split, "split", {"train": "train", "validate": "val", "test": "test"})},
                      index=split.df.index)
    repeated = sp["dicom_id"].duplicated(keep="first")
    if repeated.any():
        split.fail(repeated.to_numpy(), "dicom_id", "dicom_id listed twice", "each image must appear once")
    joined = rows[["image_id", "patient_id", "study_id"]].reset_index(names="_meta").merge(
        sp.reset_index(names="_split"), left_on="image_id", right_on="dicom_id", how="left")
    disagree = joined["split"].notna() & ((joined["subject"] != joined["patient_id"])
                                          | (joined["study"] != joined["study_id"]))
    if disagree.any():
        first = joined[disagree.to_numpy()].iloc[0]
        raise SourceFormatError(
            meta.path, f"dicom_id {first['image_id']!r}: subject/study {first['patient_id']}/{first['study_id']} "
                       f"but {split.name} line {split.line(int(first['_split']))} says "
                       f"{first['subject']}/{first['study']} ({int(disagree.sum())} such images)",
            column="study_id", line=meta.line(int(first["_meta"])), fix="use matching releases of both files")
    rows["official_split"] = joined["split"].to_numpy()
    counts["note/not_in_split_file"] = int(joined["split"].isna().sum())
    counts["note/split_rows_without_metadata"] = int((~member(sp["dicom_id"], rows["image_id"])).sum())

    keys = pd.DataFrame({"patient_id": _ids(labels, "subject_id"), "study_id": _ids(labels, "study_id")},
                        index=labels.df.index)
    repeated = keys.duplicated(keep="first")
    if repeated.any():
        labels.fail(repeated.to_numpy(), "study_id", "study listed twice", "each study must appear once")
    names = [c for c in labels.df.columns if c not in ("subject_id", "study_id")]
    for name in names:
        keys[f"{LABEL_PREFIX}{name}"] = numeric(labels, name, allowed=(1, 0, -1), fix=_FIX)
    keys["_label_record"] = labels.df.index
    rows["path"] = ("files/p" + rows["patient_id"].str[:2] + "/p" + rows["patient_id"] + "/s" + rows["study_id"]
                    + "/" + rows["image_id"] + ".jpg")
    for column, extra in _EXTRAS.items():
        rows[extra] = (text(meta, column, required=False) if column in meta.df.columns
                       else pd.Series(pd.NA, index=rows.index, dtype="str"))
        if column in _FORMATS and column in meta.df.columns:  # nothing needs them: unreadable -> missing, counted
            parse, problem = _FORMATS[column]
            valid = parsed(meta, column, parse, problem=problem, fix=_FIX, tolerate=counts)
            rows[extra] = rows[extra].where(valid.notna().reindex(rows.index, fill_value=False))
    rows["_table"], rows["_record"] = 0, meta.df.index
    merged = rows.merge(keys, on=["patient_id", "study_id"], how="left", validate="many_to_one")
    counts["note/label_rows_without_images"] = int(
        (~keys["_label_record"].isin(merged["_label_record"].dropna())).sum())

    unlabeled = merged["_label_record"].isna()
    if unlabeled.any():
        bad = merged[unlabeled.to_numpy()]
        rejections.add(bad["image_id"], bad["path"], "no_label_row",
                       [f"{w}: study s{s} of subject p{p} has no row in {labels.name}"
                        for w, s, p in zip(where(tables, bad["_table"], bad["_record"]), bad["study_id"],
                                           bad["patient_id"])])
    merged = merged[~unlabeled.to_numpy()].drop(columns="_label_record")
    order = ["image_id", "path", "patient_id", "study_id", "view_native", "sex", "age", "official_split",
             *[f"{LABEL_PREFIX}{n}" for n in names], *_EXTRAS.values(), "_table", "_record"]
    return finalize(source, merged[order], view_map=view_map, tables=tables, rejections=rejections,
                    counts=counts, started=started)


__all__ = ["LAYOUT", "VIEW_MAP", "LABELS", "PREFIX", "SOURCE", "read"]
