"""What training reads: a pixel store (``.images`` N x H x W uint8 + ``index`` image_id -> row) and labeled splits."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

OK = "ok"  # pixel-store status of a usable image (cxrinit.imaging.reasons.Status.OK)
DUPLICATE = "duplicate_id"  # status of a repeated image_id's later rows (Status.DUPLICATE_ID)


class ImageStore(Protocol):
    """The part of the pixel store training relies on."""

    images: Any  # (N, H, W) uint8, usually a read-only np.memmap
    index: pd.DataFrame  # columns image_id, row and optionally status


@dataclass
class ArrayStore:
    """Minimal pixel store over an array (or memmap) and an index; ``open_store`` falls back to it."""

    images: Any
    index: pd.DataFrame

    def __post_init__(self) -> None:
        if getattr(self.images, "ndim", None) != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"store images must be a (N, H, W) uint8 array, got {getattr(self.images, 'shape', '?')} "
                             f"{getattr(self.images, 'dtype', '?')}")

    @classmethod
    def from_dir(cls, path: str | Path) -> "ArrayStore":
        """``images.npy`` (memory-mapped read-only) + ``index.parquet`` (or ``index.csv``) in ``path``."""
        path = Path(path)
        npy = path / "images.npy"
        if not npy.is_file():
            raise FileNotFoundError(f"pixel store {path}: no images.npy")
        index_file = next((p for p in (path / "index.parquet", path / "index.csv") if p.is_file()), None)
        if index_file is None:
            raise FileNotFoundError(f"pixel store {path}: no index.parquet or index.csv next to images.npy")
        index = pd.read_parquet(index_file) if index_file.suffix == ".parquet" else pd.read_csv(index_file)
        return cls(np.load(npy, mmap_mode="r"), index)

    def row_of(self, image_ids: Any) -> np.ndarray:
        return resolve_rows(self, np.asarray(image_ids, dtype=object))[0]


def open_store(path: str | Path) -> ImageStore:
    """The project's ``PixelStore`` when the imaging package provides it, else an ``ArrayStore``."""
    try:
        from cxrinit.imaging.store import PixelStore  # type: ignore[import-not-found]
    except ImportError:
        return ArrayStore.from_dir(path)
    return PixelStore(path)


def resolve_rows(store: ImageStore, image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Store rows of ``image_ids`` and a reason per id (``""`` when usable, else why not: absent or its status)."""
    index = store.index
    for col in ("image_id", "row"):
        if col not in index.columns:
            raise ValueError(f"pixel store index lacks column {col!r}; has {list(index.columns)}")
    if "status" in index.columns:
        # a repeated image_id keeps its first row; the repeats are quarantined as duplicate_id
        index = index[index["status"].astype(str) != DUPLICATE]
    if index["image_id"].duplicated().any():
        dup = index["image_id"][index["image_id"].duplicated()].iloc[0]
        raise ValueError(f"pixel store index lists image_id {dup!r} more than once")
    lookup = pd.Series(np.arange(len(index)), index=index["image_id"].astype(str).to_numpy())
    pos = lookup.reindex(pd.Index(image_ids).astype(str)).to_numpy()
    found = ~np.isnan(pos)
    pos = np.where(found, pos, 0).astype(np.int64)
    rows = np.where(found, index["row"].to_numpy()[pos], -1).astype(np.int64)
    status = index["status"].astype(str).to_numpy()[pos] if "status" in index.columns else np.full(len(pos), OK)
    reason = np.where(~found, "not in pixel store", np.where(status == OK, "", "store status " + status))
    n = len(store.images)
    if ((rows >= n) & (reason == "")).any():
        bad = image_ids[(rows >= n) & (reason == "")][0]
        raise ValueError(f"pixel store index row for {bad!r} is beyond the {n} stored images; the store is corrupt")
    return rows, reason


@dataclass
class LabeledSplit:
    """One split ready for the loader: store rows, labels (N x C float32, NaN = masked), ids, and what was dropped."""

    name: str
    image_ids: np.ndarray
    patient_ids: np.ndarray
    rows: np.ndarray
    labels: np.ndarray
    findings: list[str]
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


def assemble_split(store: ImageStore, labels: pd.DataFrame, splits: pd.DataFrame, split: str,
                   findings: list[str] | None = None) -> LabeledSplit:
    """Images of ``split`` that have pixels and at least one annotated finding; every drop is counted by reason.

    ``labels``: image_id (column or index) x findings, 1 / 0 / NaN. ``splits``: image_id, patient_id, split.
    """
    labels = labels if "image_id" not in labels.columns else labels.set_index("image_id")
    findings = list(findings) if findings is not None else [str(c) for c in labels.columns]
    if missing := [f for f in findings if f not in labels.columns]:
        raise ValueError(f"labels table lacks finding column(s) {missing}; it has {list(labels.columns)}")
    for col in ("image_id", "patient_id", "split"):
        if col not in splits.columns:
            raise ValueError(f"splits table lacks column {col!r}; it needs image_id, patient_id, split")
    if labels.index.duplicated().any():
        raise ValueError(f"labels table has duplicated image_id {labels.index[labels.index.duplicated()][0]!r}")
    chosen = splits[splits["split"].astype(str) == split]
    if chosen.empty:
        raise ValueError(f"split {split!r} is empty; splits present: {sorted(splits['split'].astype(str).unique())}")
    ids = chosen["image_id"].astype(str).to_numpy(dtype=object)
    values = labels[findings].apply(pd.to_numeric, errors="coerce")
    bad = ~(values.isna() | values.isin([0, 1]))
    if bad.to_numpy().any():
        r, c = map(int, np.argwhere(bad.to_numpy())[0])
        value = labels[findings].iloc[r, c]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"labels table: image_id {values.index[r]!r}, column {findings[c]!r} holds "
                         f"{value!r}; labels must be 1, 0 or NaN")
    matrix = values.reindex(pd.Index(ids)).to_numpy(dtype=np.float32)
    reason = np.where(pd.Index(ids).isin(values.index.astype(str)), "", "no labels row")
    rows, store_reason = resolve_rows(store, ids)
    reason = np.where(reason == "", store_reason, reason)
    reason = np.where((reason == "") & np.isnan(matrix).all(axis=1), "no annotated finding", reason)
    keep = reason == ""
    dropped = dict(Counter(reason[~keep].tolist()))
    if dropped:
        log.info("split %s: %d of %d images kept; dropped %s", split, int(keep.sum()), len(ids), dropped)
    if not keep.any():
        raise ValueError(f"split {split!r}: none of its {len(ids)} images is usable ({dropped})")
    return LabeledSplit(split, ids[keep], chosen["patient_id"].astype(str).to_numpy(dtype=object)[keep],
                        rows[keep], matrix[keep], findings, dropped)


def pos_weight(labels: np.ndarray, findings: list[str] | None = None) -> np.ndarray:
    """Per-finding negatives / positives over annotated (non-NaN) entries of the final training set.

    A finding without positives gets 1.0 (the weight multiplies only positive terms, so it is moot) and a warning.
    """
    labels = np.asarray(labels, dtype=np.float64)
    pos = (labels == 1).sum(axis=0)
    neg = (labels == 0).sum(axis=0)
    weight = np.ones(labels.shape[1], dtype=np.float64)
    has = pos > 0
    weight[has] = neg[has] / pos[has]
    names = findings or [str(i) for i in range(labels.shape[1])]
    for i in np.flatnonzero(~has):
        log.warning("finding %s has no positive in the training split; its pos_weight is moot (set to 1)", names[i])
    return weight.astype(np.float32)
