"""Patient-wise train / val / test splits and the leakage checks.

A patient's split depends only on its id and the seed: each patient id is hashed (SipHash keyed by
the seed) to a number u in [0, 1); u < test_fraction -> test, then the next val_fraction of the
remaining range -> val, else train. So the split is deterministic, independent of row order and of
which other images are present (a MIMIC patient is in the same split whether it is split for
pretraining or for fine-tuning, whatever filters ran before). Fractions are of patients and hold
up to sampling noise (about +-0.5 points at 10,000 patients).

With ``use_official`` the source's ``official_split`` column decides train / val / test; when it
has no val, val is carved from the official train patients the same way. A copy of a dataset
without any official split (VinDr's Kaggle copy, NIH without its list files) is split patient-wise
as without ``use_official``, and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import LabelDataError, LeakageError

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_COLUMNS: tuple[str, ...] = ("image_id", "patient_id", "split")


def patient_uniform(patient_ids: pd.Series, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per patient id, fixed by (id, seed)."""
    key = f"{seed & 0xFFFFFFFFFFFFFFFF:016x}"
    hashed = pd.util.hash_array(patient_ids.astype(str).to_numpy(dtype=object), hash_key=key, categorize=True)
    return (hashed >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not 0 <= float(value) < 1:
        raise ValueError(f"make_splits: {name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def make_splits(manifest: pd.DataFrame, *, seed: int, test_fraction: float = 0.2, val_fraction: float = 0.1,
                use_official: bool = False, source: str | None = None) -> pd.DataFrame:
    """``image_id, patient_id, split`` for every image of ``manifest`` (see the module docstring).

    Raises :class:`LeakageError` if the result (e.g. an official split) puts a patient in two splits.
    """
    source = source or (str(manifest["source"].iloc[0]) if "source" in manifest.columns and len(manifest) else "?")
    test_fraction = _check_fraction("test_fraction", test_fraction)
    val_fraction = _check_fraction("val_fraction", val_fraction)
    for column in ("image_id", "patient_id") + (("official_split",) if use_official else ()):
        if column not in manifest.columns:
            raise LabelDataError(f"{source} manifest: column {column!r} is missing; splits need it")
    patient = manifest["patient_id"]
    if patient.isna().any():
        row = int(np.flatnonzero(patient.isna().to_numpy())[0])
        raise LabelDataError(f"{source} manifest, column 'patient_id', row {row} (image_id "
                             f"{manifest['image_id'].iloc[row]!r}): blank patient id; patient-wise splits need "
                             f"one for every image (fix the reader or the metadata)")
    u = patient_uniform(patient, seed)
    if use_official and len(manifest) and manifest["official_split"].isna().all():
        log.warning("%s: no image has an official split in this copy of the dataset; test (%.0f%%) and val are "
                    "carved patient-wise instead", source, 100 * test_fraction)
        use_official = False
    if use_official:
        official = manifest["official_split"]
        bad = ~official.isin(SPLITS).to_numpy(dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise LabelDataError(f"{source} manifest, column 'official_split', row {row} (image_id "
                                 f"{manifest['image_id'].iloc[row]!r}): {int(bad.sum())} image(s) have no official "
                                 f"split (value {official.iloc[row]!r}); set use_official: false for this source "
                                 f"in labels.yml, or fix the metadata")
        split = official.astype(object).to_numpy().copy()
        if val_fraction > 0 and not (split == "val").any():
            split[(split == "train") & (u < val_fraction)] = "val"
        elif val_fraction > 0:
            log.info("%s: the official split has a val part; kept it (val_fraction unused)", source)
    else:
        rest = (u - test_fraction) / (1.0 - test_fraction)
        split = np.where(u < test_fraction, "test", np.where(rest < val_fraction, "val", "train")).astype(object)
    if not use_official and test_fraction > 0:
        _ensure_nonempty(split, u, patient, "test", source)
    if val_fraction > 0:
        _ensure_nonempty(split, u, patient, "val", source)
    out = pd.DataFrame({"image_id": manifest["image_id"].to_numpy(), "patient_id": patient.astype(str).to_numpy(),
                        "split": split}).astype("str")
    check_patient_disjoint(out, source=source)
    summary = split_summary(out)
    log.info("%s: splits (seed %d%s): %s", source, seed, ", official" if use_official else "",
             "; ".join(f"{r.split} {r.images} images / {r.patients} patients" for r in summary.itertuples()))
    return out


def _ensure_nonempty(split: np.ndarray, u: np.ndarray, patient: pd.Series, name: str, source: str) -> None:
    """A tiny dataset whose hash draw left ``name`` empty gets the train patient with the smallest draw (in place)."""
    train = split == "train"
    if (split == name).any() or patient[train].nunique() < 2:
        return
    chosen = patient[train].iloc[int(np.argmin(u[train]))]
    split[(patient == chosen).to_numpy()] = name
    log.warning("%s: no patient fell into %s by the hash draw (tiny dataset); moved train patient %r there",
                source, name, chosen)


def split_summary(splits: pd.DataFrame) -> pd.DataFrame:
    """Images, patients and patient share per split (train, val, test; empty splits included)."""
    grouped = splits.groupby("split", observed=True)
    images = grouped.size().reindex(list(SPLITS), fill_value=0)
    patients = grouped["patient_id"].nunique().reindex(list(SPLITS), fill_value=0)
    total = max(int(splits["patient_id"].nunique()), 1)
    return pd.DataFrame({"split": list(SPLITS), "images": images.to_numpy(), "patients": patients.to_numpy(),
                         "patient_fraction": patients.to_numpy() / total})


def check_patient_disjoint(splits: pd.DataFrame, *, source: str = "?") -> None:
    """Raise :class:`LeakageError` if a patient has images in two splits."""
    per_patient = splits.groupby("patient_id", observed=True)["split"].nunique()
    leaked = per_patient[per_patient > 1]
    if len(leaked):
        examples = splits[splits["patient_id"].isin(leaked.index[:3])]
        shown = "; ".join(f"{p}: {', '.join(sorted(g['split'].unique()))}"
                          for p, g in examples.groupby("patient_id", observed=True))
        raise LeakageError(f"{source}: {len(leaked)} patient(s) have images in more than one split (e.g. {shown}); "
                           f"the official split is not patient-wise, or patient ids are wrong: use a patient-wise "
                           f"split (use_official: false) or fix the patient ids")
    if splits["image_id"].duplicated().any():
        dup = splits["image_id"][splits["image_id"].duplicated()].iloc[0]
        raise LeakageError(f"{source}: image {dup!r} appears twice in the splits; image ids must be unique")


def check_pretraining_leakage(pretrain_ids: Iterable[str] | pd.Series | pd.DataFrame, target_splits: pd.DataFrame,
                              *, held_out: Iterable[str] = ("val", "test"), source: str = "mimic") -> None:
    """Raise :class:`LeakageError` if a held-out (val/test) patient of the target was used in pretraining.

    ``pretrain_ids``: patient ids of the data that trained the initialization (or a frame with a
    ``patient_id`` column, e.g. its training split rows).
    """
    if isinstance(pretrain_ids, pd.DataFrame):
        if "patient_id" not in pretrain_ids.columns:
            raise LabelDataError("check_pretraining_leakage: pretrain_ids frame has no 'patient_id' column")
        pretrain_ids = pretrain_ids["patient_id"]
    seen = pd.Index(pd.Series(list(pretrain_ids) if not isinstance(pretrain_ids, pd.Series) else pretrain_ids)
                    .astype(str).unique())
    held = target_splits[target_splits["split"].isin(list(held_out))]
    leaked = held[held["patient_id"].astype(str).isin(seen)]
    if len(leaked):
        patients = leaked["patient_id"].unique()
        per_split = leaked.groupby("split", observed=True)["patient_id"].nunique().to_dict()
        raise LeakageError(f"{source}: {len(patients)} held-out patient(s) of the target were used to pretrain the "
                           f"initialization ({per_split}; e.g. {', '.join(map(str, patients[:3]))}): pretrain only on "
                           f"the target's train split with the same seed, or change the target's split")
