"""VinDr-CXR: the PhysioNet 1.0.0 release (``annotations/image_labels_{train,test}.csv``) or the Kaggle
competition copy (``train.csv`` with one row per box) -> manifest.

Images: ``train/<image_id>.dicom`` and ``test/<image_id>.dicom``. The train file has one row per
(image, radiologist): three rows per image; the test file one consensus row per image (with or
without a ``rad_id`` column).

Labels are kept as reader votes so that harmonization can choose its rule:
- ``label:<name>`` (int): how many readers marked the finding (train: 0..3; test: the consensus 0/1),
- ``n_readers`` (int): readers behind the votes (3 on train; 1 on test, where the consensus counts
  as a single reader),
- ``label_consensus`` (bool): True for the test consensus rows,
- ``rad_ids`` (str): the readers in file order, ``R1|R8|R10`` (test: its ``rad_id`` or NA).
Then ``majority`` = ``2 * votes > n_readers``, ``any`` = ``votes >= 1``, ``all`` = ``votes ==
n_readers``; on test all three reduce to the consensus.

Not in this metadata, hence NA / derived: sex and age (the DICOM header has them), the view (the
default map says PA: the dataset is PA chest films; ``view_native`` stays blank), patient and study
ids (VinDr publishes neither: each image is its own patient and study, ``patient_id = study_id =
image_id``). A second train row by the same reader for the same image is rejected as
``duplicate_reader_row`` (the image stays, with the first row's votes); an image in both files
keeps its train rows (``duplicate_id`` for the test row).

The Kaggle copy (VinBigData Chest X-ray Abnormalities Detection, the copy most people hold;
``layout: kaggle``, detected from the files by default): ``train.csv`` has one row per box per
radiologist (``image_id, class_name, class_id, rad_id, x_min, y_min, x_max, y_max``), 14 local
classes plus ``No finding`` (an empty box), three radiologists per image. A radiologist votes for
a class when any of their boxes has it, so the image-level votes mean what PhysioNet's do. The
labels this copy lacks (``Pneumonia``, ``Tuberculosis``, the other global labels) are NaN, never 0.
Its test images have no labels: they are not in the manifest (counted), every image's
``official_split`` is NA and harmonization carves a patient-wise test split instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .base import (LABEL_PREFIX, CsvTable, Rejections, SourceFormatError, SourceTable, finalize,
                   locate, numeric, read_csv, text)
from .registry import register_source
from .views import check_view_map

SOURCE = "vindr"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"": "PA"}
#: What the root folder holds (shown when it is missing).
LAYOUT = ("train/<image_id>.dicom, test/<image_id>.dicom and annotations/image_labels_{train,test}.csv "
          "(PhysioNet), or train.csv with one row per box (the Kaggle competition copy)")
LABELS: tuple[str, ...] = (
    "Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture",
    "Consolidation", "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity",
    "Lung cavity", "Lung cyst", "Mediastinal shift", "Nodule/Mass", "Pleural effusion",
    "Pleural thickening", "Pneumothorax", "Pulmonary fibrosis", "Rib fracture", "Other lesion", "COPD",
    "Lung tumor", "Pneumonia", "Tuberculosis", "Other diseases", "No finding",
)
_FIX = "use the annotation files of the VinDr-CXR 1.0.0 release"
#: The Kaggle competition copy: its box table, and the classes it annotates (a subset of ``LABELS``).
KAGGLE_FILE = "train.csv"
KAGGLE_CLASSES: tuple[str, ...] = (
    "Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Consolidation", "ILD", "Infiltration",
    "Lung Opacity", "Nodule/Mass", "Other lesion", "Pleural effusion", "Pleural thickening", "Pneumothorax",
    "Pulmonary fibrosis", "No finding",
)
LAYOUTS = ("auto", "physionet", "kaggle")
_WHERE = ("the PhysioNet release (physionet.org/content/vindr-cxr/1.0.0: annotations/image_labels_train.csv and "
          "image_labels_test.csv) or the Kaggle competition copy (kaggle.com/c/vinbigdata-chest-xray-abnormalities-"
          "detection: train.csv with one row per box)")


def _votes(table: CsvTable, labels: list[str]) -> pd.DataFrame:
    """0 / 1 per reader and label; a missing cell is NaN (an unknown vote, never a 0)."""
    return pd.DataFrame({f"{LABEL_PREFIX}{name}": numeric(table, name, allowed=(0, 1), fix=_FIX)
                         for name in labels}, index=table.df.index)


def _train(table: CsvTable, labels: list[str], rejections: Rejections, image_ext: str) -> pd.DataFrame:
    df = table.df
    image_id = text(table, "image_id", fix=_FIX)
    rad_id = text(table, "rad_id", fix=_FIX)
    votes = _votes(table, labels)
    repeat = pd.DataFrame({"i": image_id, "r": rad_id}).duplicated(keep="first")
    if repeat.any():
        bad = df.index[repeat.to_numpy()]
        rows = table.lines(bad)
        rejections.add(image_id[bad], "train/" + image_id[bad] + image_ext, "duplicate_reader_row",
                       [f"{table.name} line {ln}: reader {r!r} already voted on this image; kept the first row"
                        for ln, r in zip(rows, rad_id[bad])])
    keep = ~repeat.to_numpy()
    long = votes[keep].assign(image_id=image_id[keep], rad_id=rad_id[keep], _record=df.index[keep])
    grouped = long.groupby("image_id", sort=False)
    # an image's votes: NaN when any of its readers' cells is missing (the label is then masked)
    out = grouped[list(votes.columns)].sum(skipna=False)
    out["n_readers"] = grouped.size().astype(np.int64)
    out["label_consensus"] = False
    out["rad_ids"] = grouped["rad_id"].agg("|".join)
    out["_record"] = grouped["_record"].min()
    out = out.reset_index()
    out["official_split"] = "train"
    return out


def _test(table: CsvTable, labels: list[str]) -> pd.DataFrame:
    out = _votes(table, labels)
    out.insert(0, "image_id", text(table, "image_id", fix=_FIX))
    out["n_readers"] = np.int64(1)
    out["label_consensus"] = True
    out["rad_ids"] = (text(table, "rad_id", required=False) if "rad_id" in table.df.columns
                      else pd.Series(pd.NA, index=out.index, dtype="str"))
    out["_record"] = table.df.index
    out["official_split"] = "test"
    return out


def _kaggle(root: Path, image_ext: str, counts: dict[str, int]) -> tuple[pd.DataFrame, CsvTable]:
    """Image-level reader votes from the Kaggle copy's box table (see the module docstring)."""
    table = read_csv(root, root / KAGGLE_FILE, required=("image_id", "class_name", "rad_id"),
                     optional=("class_id", "x_min", "y_min", "x_max", "y_max"), counts=counts)
    image_id = text(table, "image_id", fix="use the competition's train.csv as downloaded")
    rad_id = text(table, "rad_id", fix="use the competition's train.csv as downloaded")
    class_name = table.df["class_name"].str.strip()
    unknown = ~class_name.isin(KAGGLE_CLASSES)
    if unknown.any():
        table.fail(unknown, "class_name", f"unexpected class (expected one of {', '.join(KAGGLE_CLASSES)})",
                   "use the competition's train.csv as downloaded")
    boxes = pd.DataFrame({"image_id": image_id, "rad_id": rad_id, "class_name": class_name,
                          "_record": table.df.index})
    # a radiologist votes for a class when any of their boxes has it (several boxes: one vote)
    voted = boxes.drop_duplicates(["image_id", "rad_id", "class_name"])
    votes = pd.crosstab(voted["image_id"], voted["class_name"]).reindex(columns=list(KAGGLE_CLASSES), fill_value=0)
    readers = boxes.drop_duplicates(["image_id", "rad_id"]).groupby("image_id", sort=False)
    order = boxes.drop_duplicates("image_id")["image_id"]
    out = pd.DataFrame({"image_id": order.to_numpy()})
    for name in LABELS:  # the labels this copy lacks stay NaN (unknown), never 0
        out[f"{LABEL_PREFIX}{name}"] = (votes[name].reindex(order).to_numpy(dtype=np.float64)
                                        if name in KAGGLE_CLASSES else np.nan)
    out["n_readers"] = readers.size().reindex(order).to_numpy(dtype=np.int64)
    out["label_consensus"] = False
    out["rad_ids"] = readers["rad_id"].agg("|".join).reindex(order).to_numpy()
    out["_record"] = boxes.groupby("image_id", sort=False)["_record"].min().reindex(order).to_numpy()
    out["official_split"] = pd.Series(pd.NA, index=out.index, dtype="str")
    out["path"] = "train/" + out["image_id"] + image_ext
    test = root / "test"
    counts["note/kaggle_copy_test_split_carved_patient_wise"] = len(out)
    counts["note/kaggle_test_images_without_labels"] = (
        sum(1 for p in test.iterdir() if p.suffix == image_ext) if test.is_dir() else 0)
    counts["note/labels_missing_in_kaggle_copy"] = len([n for n in LABELS if n not in KAGGLE_CLASSES])
    return out, table


def _layout(root: Path, layout: str, annotations_dir: str, train_file: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"vindr reader: layout {layout!r} unknown; use one of {', '.join(LAYOUTS)}")
    physionet = (root / annotations_dir / train_file).is_file()
    kaggle = (root / KAGGLE_FILE).is_file()
    if layout == "auto":
        if physionet:
            return "physionet"
        if kaggle:
            return "kaggle"
        raise SourceFormatError(root / annotations_dir / train_file,
                                f"no VinDr-CXR labels found in {root}: neither {annotations_dir}/{train_file} "
                                f"(PhysioNet) nor {KAGGLE_FILE} (Kaggle)",
                                fix=f"point the VinDr root at the folder holding {_WHERE}")
    return layout


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=True)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, source: str = SOURCE,
         annotations_dir: str = "annotations", train_file: str = "image_labels_train.csv",
         test_file: str = "image_labels_test.csv", image_ext: str = ".dicom",
         layout: Literal["auto", "physionet", "kaggle"] = "auto") -> SourceTable:
    """Read VinDr-CXR's image-level labels under ``root`` (see the module docstring).

    ``layout``: ``physionet`` (the 1.0.0 release), ``kaggle`` (the competition copy) or ``auto``
    (whichever is there; PhysioNet first). Raises ``SourceFormatError`` naming both when neither is.
    """
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    counts: dict[str, int] = {}
    rejections = Rejections()
    if _layout(root, layout, annotations_dir, train_file) == "kaggle":
        rows, table = _kaggle(root, image_ext, counts)
        rows = _finish(rows.assign(_table=0), [f"{LABEL_PREFIX}{n}" for n in LABELS])
        return finalize(source, rows, view_map=view_map, tables=[table], rejections=rejections, counts=counts,
                        started=started)
    fix = f"point the VinDr root at the folder holding {annotations_dir}/, train/ and test/"
    train_path = locate(root, [f"{annotations_dir}/{train_file}"], "VinDr train labels", fix)
    test_path = locate(root, [f"{annotations_dir}/{test_file}"], "VinDr test labels", fix)
    train = read_csv(root, train_path, required=("image_id", "rad_id", *LABELS), keep_all=True, counts=counts)
    labels = [c for c in train.df.columns if c not in ("image_id", "rad_id")]
    test = read_csv(root, test_path, required=("image_id", *labels), optional=("rad_id",), counts=counts)
    extra = [c for c in test.df.columns if c not in ("image_id", "rad_id", *labels)]
    if extra:
        raise SourceFormatError(test.path, f"label column(s) not in {train.name}: {extra}", column=extra[0],
                                line=1, fix="both files must carry the same label columns")

    parts = [_train(train, labels, rejections, image_ext).assign(_table=0),
             _test(test, labels).assign(_table=1)]
    rows = pd.concat(parts, ignore_index=True)
    rows["path"] = rows["official_split"] + "/" + rows["image_id"] + image_ext
    rows = _finish(rows, [f"{LABEL_PREFIX}{name}" for name in labels])
    return finalize(source, rows, view_map=view_map, tables=[train, test], rejections=rejections,
                    counts=counts, started=started)


def _finish(rows: pd.DataFrame, label_cols: list[str]) -> pd.DataFrame:
    """What VinDr's metadata does not hold (each image is its own patient and study; no sex, age, view)."""
    rows["patient_id"] = rows["image_id"]
    rows["study_id"] = rows["image_id"]
    rows["view_native"] = pd.Series(pd.NA, index=rows.index, dtype="str")
    rows["sex"] = pd.Series(pd.NA, index=rows.index, dtype="str")
    rows["age"] = np.nan
    return rows[["image_id", "path", "patient_id", "study_id", "view_native", "sex", "age", "official_split",
                 *label_cols, "n_readers", "label_consensus", "rad_ids", "_table", "_record"]]


__all__ = ["KAGGLE_CLASSES", "KAGGLE_FILE", "LABELS", "LAYOUT", "LAYOUTS", "SOURCE", "VIEW_MAP", "read"]
