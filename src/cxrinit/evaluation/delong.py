"""DeLong's test for two correlated AUROCs on the same images, in O(N log N) with midranks.

Sun & Xu (2014), "Fast implementation of DeLong's algorithm": the structural components (placement
values) come from midranks of the positives, the negatives and both together, so no N+ x N- matrix
is formed. Paired: the variance of the difference uses the covariance of the two AUROCs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class DeLongResult:
    """AUROCs of A and B, their difference, its standard error, z and the two-sided p-value."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p: float


def placements(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROC per classifier and the placement values V10 (per positive) and V01 (per negative).

    ``scores`` is (n_classifiers, N); ``labels`` (N,) 1 / 0 (mask NaN labels before).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    pos, neg = labels == 1, labels == 0
    x, y = scores[:, pos], scores[:, neg]
    m, n = x.shape[1], y.shape[1]
    tx = stats.rankdata(x, axis=1)
    ty = stats.rankdata(y, axis=1)
    tz = stats.rankdata(np.concatenate([x, y], axis=1), axis=1)
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return auc, v10, v01


def delong_test(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> DeLongResult:
    """Paired two-sided DeLong test of AUROC(A) = AUROC(B); NaN labels are masked.

    Undefined (all NaN) with fewer than two positives or two negatives. When the difference has zero
    variance (e.g. identical rankings) p is 1 if the AUROCs are equal, else NaN.
    """
    labels = np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(labels)
    lab = labels[keep]
    m, n = int((lab == 1).sum()), int((lab == 0).sum())
    if m < 2 or n < 2:
        return DeLongResult(*([float("nan")] * 6))
    auc, v10, v01 = placements(lab, np.vstack([np.asarray(scores_a)[keep], np.asarray(scores_b)[keep]]))
    cov = np.cov(v10) / m + np.cov(v01) / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(auc[0] - auc[1])
    if var <= 1e-300:
        p = 1.0 if diff == 0 else float("nan")
        return DeLongResult(float(auc[0]), float(auc[1]), diff, 0.0, float("nan"), p)
    se = float(np.sqrt(var))
    z = diff / se
    return DeLongResult(float(auc[0]), float(auc[1]), diff, se, z, float(2 * stats.norm.sf(abs(z))))
