"""Multiple-testing adjustment over a family of p-values: Benjamini-Hochberg (FDR) or Holm (FWER).

NaN p-values (tests that were undefined) are not part of the family and stay NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ADJUSTMENTS = ("bh", "holm", "none")


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (q-values), same order as ``p``."""
    return _masked(p, lambda x: stats.false_discovery_control(x, method="bh"))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values: running max of ``(m - i + 1) p_(i)``, capped at 1."""
    def adjust(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        m = len(x)
        stepped = np.maximum.accumulate((m - np.arange(m)) * x[order])
        out = np.empty(m)
        out[order] = np.minimum(stepped, 1.0)
        return out
    return _masked(p, adjust)


def adjust_p(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """Adjust a family of p-values: ``"bh"``, ``"holm"`` or ``"none"`` (the study's effective no-op)."""
    if method == "bh":
        return benjamini_hochberg(p)
    if method == "holm":
        return holm(p)
    if method == "none":
        return np.asarray(p, dtype=np.float64).copy()
    raise ValueError(f"unknown adjustment {method!r}; choose one of {ADJUSTMENTS}")


def _masked(p: np.ndarray, fn) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = fn(p[ok])
    return out
