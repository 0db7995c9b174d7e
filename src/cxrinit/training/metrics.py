"""Validation metrics: per-finding AUROC over annotated entries."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def auroc_per_finding(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of each column over its non-NaN labels; NaN where a column has a single class (undefined)."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if probs.shape != labels.shape:
        raise ValueError(f"probabilities {probs.shape} and labels {labels.shape} differ in shape")
    out = np.full(labels.shape[1], np.nan)
    for j in range(labels.shape[1]):
        keep = ~np.isnan(labels[:, j])
        y = labels[keep, j]
        if y.size and 0 < y.sum() < y.size:
            out[j] = roc_auc_score(y, probs[keep, j])
    return out


def mean_auroc(per_finding: np.ndarray) -> float:
    """Mean over findings where AUROC is defined; NaN when none is."""
    defined = per_finding[~np.isnan(per_finding)]
    return float(defined.mean()) if defined.size else float("nan")
