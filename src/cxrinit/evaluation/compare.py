"""Paired comparisons of the inits on each source: bootstrap p-values, DeLong, multiplicity.

For every pair (A, B) of inits on a source (in the order given) and every finding both were trained
on, plus the mean over those common findings:

* ``p_greater`` — the study's one-sided paired bootstrap test of H1: AUROC(A) > AUROC(B): with
  ``k`` the resamples where A <= B among the ``n`` where both are defined, ``(k + 1) / (n + 1)``
  (the study reported ``k / n``, kept as ``share_a_le_b``); ``p_less`` the mirror test.
* ``p_two_sided`` — ``min(1, 2 min(p_greater, p_less))``.
* ``p_delong`` — two-sided DeLong on the full test set, single findings only.

:func:`adjust_comparisons` then adjusts each kind of p-value over the whole family (every source,
finding — the mean included — and pair); both one-sided directions form one family of 2 x rows tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .bootstrap import _nanmean
from .delong import delong_test
from .multiplicity import adjust_p
from .predictions import MEAN, align_split

P_COLUMNS = ("p_greater", "p_less", "p_two_sided", "p_delong")
#: Separates the findings of a comparison in the ``findings`` column.
FINDING_SEP = ";"


def bootstrap_p_values(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """One- and two-sided paired bootstrap p-values from replicates of A and B (NaN = undefined)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = ~np.isnan(a) & ~np.isnan(b)
    n = int(both.sum())
    if n == 0:
        return {"n_resamples": 0, "k_a_le_b": 0, "share_a_le_b": np.nan, "p_greater": np.nan, "p_less": np.nan,
                "p_two_sided": np.nan}
    k_le = int((a[both] <= b[both]).sum())
    k_ge = int((a[both] >= b[both]).sum())
    greater, less = (k_le + 1) / (n + 1), (k_ge + 1) / (n + 1)
    return {"n_resamples": n, "k_a_le_b": k_le, "share_a_le_b": k_le / n, "p_greater": greater, "p_less": less,
            "p_two_sided": min(1.0, 2 * min(greater, less))}


def compare_models(predictions: Mapping[str, pd.DataFrame], points: pd.DataFrame, replicates: pd.DataFrame, *,
                   source: str, ci: float = 0.95) -> pd.DataFrame:
    """Every pair of inits on one source, per common finding and for their mean AUROC.

    ``findings`` names what each row compares: the finding, or (mean rows) the common findings joined
    by ``;`` — the comparison set the study table shows the pair under (:mod:`.sets`).
    ``points``/``replicates``: from :func:`.bootstrap.bootstrap_metrics` for this source. The mean
    is recomputed per resample over the findings the pair shares (NaN findings skipped).
    """
    test = align_split(predictions, "test", source)
    reps = replicates[replicates["source"] == source]
    pts = points[points["source"] == source].set_index(["init", "finding"])["auroc"]
    if reps.empty:
        raise ValueError(f"no replicates for source {source!r}; run bootstrap_metrics on it first")
    n_res = int(reps["resample"].max()) + 1
    auc = {key: grp.sort_values("resample")["auroc"].to_numpy() for key, grp in reps.groupby(["init", "finding"])}
    lo, hi = 100 * (1 - ci) / 2, 100 * (1 + ci) / 2
    rows = []
    for a, b in itertools.combinations(test.inits, 2):
        common = [f for f in test.findings if f in test.has[a] and f in test.has[b]]
        if not common:
            continue
        for f in [*common, MEAN]:
            if f == MEAN:
                ra = _mean_rows([auc[a, g] for g in common], n_res)
                rb = _mean_rows([auc[b, g] for g in common], n_res)
                pa, pb = _point_mean([pts[a, g] for g in common]), _point_mean([pts[b, g] for g in common])
                dl = None
            else:
                ra, rb = auc[a, f], auc[b, f]
                pa, pb = float(pts[a, f]), float(pts[b, f])
                j = test.findings.index(f)
                dl = delong_test(test.labels[:, j], test.scores[a][:, j], test.scores[b][:, j])
            d = ra - rb
            d = d[~np.isnan(d)]
            rows.append({
                "source": source, "finding": f, "init_a": a, "init_b": b, "n_findings": len(common) if f == MEAN else 1,
                "findings": FINDING_SEP.join(common) if f == MEAN else f,
                "auroc_a": pa, "auroc_b": pb, "diff": pa - pb,
                "diff_mean": d.mean() if len(d) else np.nan,
                "diff_ci_low": np.percentile(d, lo) if len(d) else np.nan,
                "diff_ci_high": np.percentile(d, hi) if len(d) else np.nan,
                **bootstrap_p_values(ra, rb),
                "z_delong": np.nan if dl is None else dl.z, "p_delong": np.nan if dl is None else dl.p})
    return pd.DataFrame(rows)


def adjust_comparisons(comparisons: pd.DataFrame, method: str = "bh") -> pd.DataFrame:
    """Add ``<p>_adj`` for every p-value column, adjusted over all rows (all sources x findings x pairs).

    ``method``: ``"bh"`` (Benjamini-Hochberg, default), ``"holm"`` or ``"none"`` (the study's no-op).
    Pass the comparisons of every source at once: the family is whatever this table holds.
    """
    out = comparisons.copy()
    n = len(out)
    one_sided = adjust_p(np.concatenate([out["p_greater"].to_numpy(float), out["p_less"].to_numpy(float)]), method)
    out["p_greater_adj"], out["p_less_adj"] = one_sided[:n], one_sided[n:]
    out["p_two_sided_adj"] = adjust_p(out["p_two_sided"].to_numpy(float), method)
    out["p_delong_adj"] = adjust_p(out["p_delong"].to_numpy(float), method)
    out["adjustment"] = method
    return out


def _mean_rows(rows: list[np.ndarray], n: int) -> np.ndarray:
    return _nanmean(np.vstack(rows) if rows else np.full((1, n), np.nan), 0)


def _point_mean(values: list[float]) -> float:
    return float(_nanmean(np.asarray(values, dtype=float), 0))
