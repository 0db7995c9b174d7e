"""Predictions tables: validation and alignment of the models trained on one source.

A predictions table has ``image_id, split ("val"/"test"), patient_id`` and, per finding ``f``, a
probability ``prob_<f>`` in [0, 1] and a label ``label_<f>`` (1.0 / 0.0 / NaN, NaN = not annotated).
Every model on a source must cover the same test images; they are put in one canonical order
(sorted by ``image_id``) so that one set of resamples serves them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

ID_COLUMNS = ("image_id", "split", "patient_id")
SPLITS = ("val", "test")
PROB, LABEL = "prob_", "label_"
#: Name of the label-averaged pseudo finding in every output table; no real finding may use it.
MEAN = "mean"


def findings_of(df: pd.DataFrame, name: str = "predictions") -> list[str]:
    """Findings of a predictions table, in column order; every ``prob_`` needs its ``label_`` and back."""
    probs = [c[len(PROB):] for c in df.columns if str(c).startswith(PROB)]
    labels = [c[len(LABEL):] for c in df.columns if str(c).startswith(LABEL)]
    if missing := [f for f in probs if f not in labels]:
        raise ValueError(f"{name}: probability columns without a label column: {[PROB + f for f in missing]}; "
                         f"add {[LABEL + f for f in missing]} (NaN where not annotated)")
    if missing := [f for f in labels if f not in probs]:
        raise ValueError(f"{name}: label columns without a probability column: {[LABEL + f for f in missing]}")
    if not probs:
        raise ValueError(f"{name}: no finding columns; expected prob_<finding> and label_<finding> pairs")
    if MEAN in probs:
        raise ValueError(f"{name}: a finding may not be called {MEAN!r} (reserved for the label average)")
    return probs


def validate_predictions(df: pd.DataFrame, name: str = "predictions") -> list[str]:
    """Check a predictions table against the contract; return its findings or raise naming what is wrong."""
    if missing := [c for c in ID_COLUMNS if c not in df.columns]:
        raise ValueError(f"{name}: missing column(s) {missing}; a predictions table needs {list(ID_COLUMNS)}")
    findings = findings_of(df, name)
    if df["image_id"].isna().any() or df["patient_id"].isna().any():
        col = "image_id" if df["image_id"].isna().any() else "patient_id"
        row = int(np.flatnonzero(df[col].isna().to_numpy())[0])
        raise ValueError(f"{name}: empty {col} in row {row}; every row needs an image_id and a patient_id")
    if (dup := df["image_id"].duplicated()).any():
        raise ValueError(f"{name}: {int(dup.sum())} duplicated image_id(s), e.g. {df['image_id'][dup].iloc[0]!r};"
                         " one row per image")
    if bad := sorted(set(df["split"].astype(str)) - set(SPLITS)):
        raise ValueError(f"{name}: unknown split value(s) {bad} in column 'split'; allowed: {list(SPLITS)}")
    for f in findings:
        prob = pd.to_numeric(df[PROB + f], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(prob) | (prob < 0) | (prob > 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: column {PROB + f!r} has {int(bad.sum())} value(s) outside [0, 1] or missing,"
                             f" e.g. {df[PROB + f].iloc[i]!r} for image_id {df['image_id'].iloc[i]!r};"
                             " store sigmoid probabilities")
        label = pd.to_numeric(df[LABEL + f], errors="coerce").to_numpy(dtype=float)
        raw_missing = df[LABEL + f].isna().to_numpy()
        bad = (np.isnan(label) & ~raw_missing) | (~np.isnan(label) & (label != 0) & (label != 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: column {LABEL + f!r} has {int(bad.sum())} value(s) other than 1, 0 or NaN,"
                             f" e.g. {df[LABEL + f].iloc[i]!r} for image_id {df['image_id'].iloc[i]!r}")
    return findings


@dataclass(frozen=True)
class AlignedSplit:
    """One split of every model on a source, rows in one shared order.

    ``scores[init]`` and ``labels`` are (N, F) over the union ``findings``; ``scores`` is NaN in the
    columns an init was not trained on (``has[init]``); ``labels`` is NaN where not annotated.
    """

    source: str
    split: str
    image_ids: np.ndarray
    patient_ids: np.ndarray
    findings: tuple[str, ...]
    labels: np.ndarray
    scores: dict[str, np.ndarray]
    has: dict[str, tuple[str, ...]]

    @property
    def inits(self) -> tuple[str, ...]:
        return tuple(self.scores)

    @property
    def n_images(self) -> int:
        return len(self.image_ids)


def align_split(predictions: Mapping[str, pd.DataFrame], split: str, source: str = "") -> AlignedSplit:
    """Rows of ``split`` of every init's predictions, joined on ``image_id`` and sorted by it.

    Raises when the inits do not cover the same images, disagree on a patient_id, or disagree on the
    label of a finding they share (they must come from the same labels table).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not predictions:
        raise ValueError(f"source {source!r}: no predictions given")
    where = f"source {source!r}" if source else "predictions"
    findings: list[str] = []
    has: dict[str, tuple[str, ...]] = {}
    tables: dict[str, pd.DataFrame] = {}
    for init, df in predictions.items():
        own = validate_predictions(df, f"{where}, init {init!r}")
        has[init] = tuple(own)
        findings += [f for f in own if f not in findings]
        part = df[df["split"].astype(str) == split]
        tables[init] = part.set_index(part["image_id"].astype(str)).sort_index()
    first, ref = next(iter(tables.items()))
    for init, t in tables.items():
        if not t.index.equals(ref.index):
            only_a = ref.index.difference(t.index)
            only_b = t.index.difference(ref.index)
            raise ValueError(
                f"{where}: {split} images differ between init {first!r} ({len(ref)} rows) and {init!r} ({len(t)} rows):"
                f" {len(only_a)} only in {first!r} (e.g. {list(only_a[:3])}), {len(only_b)} only in {init!r}"
                f" (e.g. {list(only_b[:3])}); models on one source must be evaluated on the same images")
        differ = t["patient_id"].astype(str).to_numpy() != ref["patient_id"].astype(str).to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise ValueError(f"{where}: image {t.index[i]!r} has patient_id {t['patient_id'].iloc[i]!r} for init"
                             f" {init!r} but {ref['patient_id'].iloc[i]!r} for {first!r}")
    n = len(ref)
    labels = np.full((n, len(findings)), np.nan)
    owner: dict[str, str] = {}
    scores = {init: np.full((n, len(findings)), np.nan) for init in tables}
    for init, t in tables.items():
        for f in has[init]:
            j = findings.index(f)
            lab = pd.to_numeric(t[LABEL + f]).to_numpy(dtype=float)
            if f in owner:
                same = (lab == labels[:, j]) | (np.isnan(lab) & np.isnan(labels[:, j]))
                if not same.all():
                    i = int(np.flatnonzero(~same)[0])
                    raise ValueError(f"{where}: {LABEL + f} of image {t.index[i]!r} is {lab[i]} for init {init!r} but"
                                     f" {labels[i, j]} for {owner[f]!r}; all inits must use the same labels table")
            else:
                labels[:, j], owner[f] = lab, init
            scores[init][:, j] = pd.to_numeric(t[PROB + f]).to_numpy(dtype=float)
    return AlignedSplit(source=source, split=split, image_ids=ref.index.to_numpy(),
                        patient_ids=ref["patient_id"].astype(str).to_numpy(), findings=tuple(findings),
                        labels=labels, scores=scores, has=has)
