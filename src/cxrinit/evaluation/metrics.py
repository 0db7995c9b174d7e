"""Count-weighted AUROC and threshold metrics, exact under tied scores.

One (model, finding) is summarized by its tie groups: the annotated images grouped by equal score,
in ascending score order. A resample is a vector of counts (how often each image was drawn); the
counts of many resamples at once, as an (N, k) matrix, are reduced to per-group sums of positives
``P`` and negatives ``Q`` (G, k) by one sparse product. Everything else works on those sums:

* AUROC is the weighted Mann-Whitney statistic ``sum_g P_g (Q_{<g} + Q_g / 2) / (W+ W-)``, i.e.
  the rank-sum over tie groups with half credit for ties — exactly ``roc_auc_score`` on the
  explicitly resampled arrays.
* A threshold is a group index ``start``: images in groups ``>= start`` are called positive
  (``start = G`` calls nothing positive). Youden's J picks the start maximizing
  ``TP/W+ - FP/W-``, compared in exact integer arithmetic; ties go to the highest threshold, as
  ``argmax`` over ``sklearn.metrics.roc_curve`` (decreasing thresholds) does.

Undefined: a finding whose (re)sample holds a single class (or nothing) has every metric NaN, never
0.5 — thresholded metrics too, so that averages over findings always cover the same findings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: Metrics computed per finding, in output order.
THRESHOLD_METRICS = ("accuracy", "sensitivity", "specificity", "f1")
METRICS = ("auroc", *THRESHOLD_METRICS)
#: Largest integer float32 holds exactly; sums above it switch the product to float64.
_F32_EXACT = 2**24


@dataclass(frozen=True)
class TieGroups:
    """Annotated images of one (model, finding), grouped by equal score.

    ``scores``: the G distinct scores, ascending. ``matrix``: (2G, N) 0/1 sparse; row ``g`` picks
    the positives of group ``g``, row ``G + g`` its negatives; unannotated images are in no row.
    """

    scores: np.ndarray
    matrix: sparse.csr_array
    n_pos: int
    n_neg: int
    n_masked: int

    @property
    def n_groups(self) -> int:
        return len(self.scores)

    def sums(self, counts_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-group positive and negative weights ``P, Q`` (G, k), float64, for counts (N, k)."""
        y = self.matrix @ counts_t
        g = self.n_groups
        return np.asarray(y[:g], dtype=np.float64), np.asarray(y[g:], dtype=np.float64)

    def start_at(self, threshold: float, strict: bool = False) -> int:
        """Group index of a score threshold: positive iff score >= threshold (``>`` when ``strict``)."""
        if np.isnan(threshold):
            raise ValueError("threshold is NaN; it was fitted on a split with a single class")
        return int(np.searchsorted(self.scores, threshold, side="right" if strict else "left"))

    def threshold_of(self, start: int) -> float:
        """The score threshold a group index stands for (``inf`` when nothing is called positive)."""
        return float(self.scores[start]) if start < self.n_groups else float("inf")

    def youden(self) -> float:
        """Youden threshold on all annotated images (positive iff score >= it); NaN for a single class."""
        if self.n_pos == 0 or self.n_neg == 0:
            return float("nan")
        p, q = self.sums(counts_matrix(np.ones((1, self.matrix.shape[1]), np.uint8)))
        return self.threshold_of(int(youden_start(p, q)[0]))


def tie_groups(scores: np.ndarray, labels: np.ndarray) -> TieGroups:
    """Tie groups of one finding; ``labels`` 1 / 0 / NaN (NaN = not annotated, masked)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be equal-length vectors")
    keep = np.flatnonzero(~np.isnan(labels))
    if np.isnan(scores[keep]).any():
        raise ValueError("a score is NaN where the label is annotated")
    distinct, group = np.unique(scores[keep], return_inverse=True)
    g = len(distinct)
    neg = labels[keep] == 0
    rows = group + g * neg
    matrix = sparse.csr_array((np.ones(len(keep), np.float32), (rows, keep)), shape=(2 * g, len(scores)))
    return TieGroups(scores=distinct, matrix=matrix, n_pos=int((~neg).sum()), n_neg=int(neg.sum()),
                     n_masked=len(scores) - len(keep))


def counts_matrix(counts: np.ndarray) -> np.ndarray:
    """Resample counts (k, N) as the (N, k) float matrix the group sums take; float32 while exact."""
    counts = np.asarray(counts)
    exact32 = counts.size == 0 or counts.sum(axis=1, dtype=np.int64).max() < _F32_EXACT
    return np.ascontiguousarray(counts.T, dtype=np.float32 if exact32 else np.float64)


def _defined(wpos: np.ndarray, wneg: np.ndarray) -> np.ndarray:
    return (wpos > 0) & (wneg > 0)


def _cumulative(w: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sums with a trailing total: row g = weight of groups < g, (G+1, k)."""
    out = np.zeros((w.shape[0] + 1, w.shape[1]))
    np.cumsum(w, axis=0, out=out[1:])
    return out


def auroc_from_sums(p: np.ndarray, q: np.ndarray, cq: np.ndarray | None = None) -> np.ndarray:
    """AUROC per column of group sums (G, k); NaN where a class is absent."""
    if cq is None:
        cq = _cumulative(q)
    wpos, wneg = p.sum(axis=0), cq[-1]
    below = cq[:-1] + 0.5 * q
    num = np.einsum("gk,gk->k", p, below)
    ok = _defined(wpos, wneg)
    out = np.full(p.shape[1], np.nan)
    out[ok] = num[ok] / (wpos[ok] * wneg[ok])
    return out


def youden_start(p: np.ndarray, q: np.ndarray, cp: np.ndarray | None = None,
                 cq: np.ndarray | None = None) -> np.ndarray:
    """Group index maximizing Youden's J per column (ties to the highest threshold); (k,) int."""
    cp = _cumulative(p) if cp is None else cp
    cq = _cumulative(q) if cq is None else cq
    wpos, wneg = cp[-1], cq[-1]
    # J * W+ * W- = TP W- - FP W+: integers well below 2**53, so ties are exact.
    j = (wpos - cp) * wneg - (wneg - cq) * wpos
    g = cp.shape[0] - 1
    return g - np.argmax(j[::-1], axis=0)


def rates_at(cp: np.ndarray, cq: np.ndarray, start: int | np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, sensitivity, specificity, F1 when groups ``>= start`` are called positive.

    ``cp, cq``: exclusive cumulative sums (G+1, k) from :func:`_cumulative`; ``start`` an int or (k,).
    """
    k = cp.shape[1]
    cols = np.arange(k)
    start = np.broadcast_to(np.asarray(start), (k,))
    wpos, wneg = cp[-1], cq[-1]
    tp = wpos - cp[start, cols]
    fp = wneg - cq[start, cols]
    fn, tn = wpos - tp, wneg - fp
    ok = _defined(wpos, wneg)
    out = {m: np.full(k, np.nan) for m in THRESHOLD_METRICS}
    out["sensitivity"][ok] = tp[ok] / wpos[ok]
    out["specificity"][ok] = tn[ok] / wneg[ok]
    out["accuracy"][ok] = (tp[ok] + tn[ok]) / (wpos[ok] + wneg[ok])
    out["f1"][ok] = 2 * tp[ok] / (2 * tp[ok] + fp[ok] + fn[ok])
    return out


def evaluate_counts(groups: TieGroups, counts_t: np.ndarray, *, start: int | None = None,
                    strict: bool = False, thresholded: bool = True) -> dict[str, np.ndarray]:
    """Every metric of one (model, finding) for the resamples in ``counts_t`` (N, k).

    ``start``: fixed threshold as a group index (e.g. from the validation split); ``None`` re-fits
    Youden's J on every resample (the study's rule). ``strict``: the chosen score itself is called
    negative (the study's ``score > threshold``); only with ``start=None``, a fixed ``start``
    already encodes it.
    """
    p, q = groups.sums(counts_t)
    cq = _cumulative(q)
    out = {"auroc": auroc_from_sums(p, q, cq)}
    if thresholded:
        cp = _cumulative(p)
        if start is None:
            start = youden_start(p, q, cp, cq)
            if strict:
                start = np.minimum(start + 1, groups.n_groups)
        out.update(rates_at(cp, cq, start))
    return out


def auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """AUROC of one finding (NaN labels masked, optional integer weights); NaN for a single class."""
    w = np.ones(len(scores)) if weights is None else np.asarray(weights)
    return float(evaluate_counts(tie_groups(scores, labels), counts_matrix(w[None]), thresholded=False)["auroc"][0])


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Score threshold maximizing Youden's J (positive iff score >= it); NaN for a single class."""
    return tie_groups(scores, labels).youden()


def threshold_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float,
                      strict: bool = False) -> dict[str, float]:
    """Accuracy, sensitivity, specificity, F1 at a fixed threshold; NaN for a single class."""
    groups = tie_groups(scores, labels)
    p, q = groups.sums(counts_matrix(np.ones((1, len(scores)))))
    res = rates_at(_cumulative(p), _cumulative(q), groups.start_at(threshold, strict))
    return {m: float(v[0]) for m, v in res.items()}
