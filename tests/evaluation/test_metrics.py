"""AUROC and threshold metrics against sklearn and explicit resampling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from cxrinit.evaluation import auroc, draw_resamples, threshold_metrics, youden_threshold
from cxrinit.evaluation.metrics import counts_matrix, evaluate_counts, tie_groups


def _data(seed: int, n: int = 300, decimals: int = 2, nan_share: float = 0.2):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    s = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), decimals)
    y[rng.random(n) < nan_share] = np.nan
    return y, s


@pytest.mark.parametrize("seed", range(5))
def test_auroc_equals_sklearn_with_ties_and_masked_nan(seed):
    y, s = _data(seed, decimals=1 + seed % 2)
    keep = ~np.isnan(y)
    assert len(np.unique(s[keep])) < keep.sum()  # ties present
    assert auroc(y, s) == pytest.approx(roc_auc_score(y[keep], s[keep]), abs=1e-12)


def test_count_weighted_auroc_equals_explicit_resampling():
    y, s = _data(7, n=120)
    res = draw_resamples(len(y), n_resamples=40, seed=3, source="vindr")
    got = evaluate_counts(tie_groups(s, y), counts_matrix(res.counts()), thresholded=False)["auroc"]
    for b in range(res.n_resamples):
        idx = res.indices(b)
        yi, si = y[idx], s[idx]
        keep = ~np.isnan(yi)
        assert got[b] == pytest.approx(roc_auc_score(yi[keep], si[keep]), abs=1e-12)


def test_single_class_and_all_nan_are_undefined_not_half():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(auroc(np.array([1.0, 1.0, np.nan]), np.array([0.2, 0.3, 0.9])))
        assert np.isnan(auroc(np.full(4, np.nan), np.array([0.2, 0.3, 0.9, 0.1])))
        assert np.isnan(youden_threshold(np.array([0.0, 0.0]), np.array([0.2, 0.3])))
        m = threshold_metrics(np.array([0.0, 0.0, 0.0]), np.array([0.1, 0.5, 0.9]), 0.5)
        assert all(np.isnan(v) for v in m.values())


def test_youden_hand_example_applied_to_test():
    # sklearn's doc example: J = 0.5 at 0.8 and at 0.35; ties go to the higher threshold.
    val_y, val_s = np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.1, 0.4, 0.35, 0.8])
    assert youden_threshold(val_y, val_s) == 0.8
    test_y = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    test_s = np.array([0.9, 0.8, 0.7, 0.2, 0.85, 0.5])
    # >= 0.8 calls images 0, 1, 4 positive: TP 2, FN 1, FP 1, TN 2.
    m = threshold_metrics(test_y, test_s, 0.8)
    assert m == pytest.approx({"sensitivity": 2 / 3, "specificity": 2 / 3, "accuracy": 4 / 6, "f1": 4 / 6})
    # The study's "> 0.8" drops image 1: TP 1, FN 2, FP 1, TN 2.
    m = threshold_metrics(test_y, test_s, 0.8, strict=True)
    assert m == pytest.approx({"sensitivity": 1 / 3, "specificity": 2 / 3, "accuracy": 0.5, "f1": 0.4})


def _study_rule(y: np.ndarray, s: np.ndarray, strict: bool) -> dict[str, float]:
    """The reference scripts' per-resample rule: argmax of J over roc_curve, J compared exactly."""
    keep = ~np.isnan(y)
    y, s = y[keep], s[keep]
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if pos == 0 or neg == 0:
        return dict.fromkeys(("accuracy", "sensitivity", "specificity", "f1"), np.nan)
    fpr, tpr, thr = roc_curve(y, s)
    j = np.rint(tpr * pos) * neg - np.rint(fpr * neg) * pos
    t = thr[int(np.argmax(j))]
    pred = s > t if strict else s >= t
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = pos - tp, neg - fp
    return {"accuracy": (tp + tn) / (pos + neg), "sensitivity": tp / pos, "specificity": tn / neg,
            "f1": 2 * tp / (2 * tp + fp + fn)}


@pytest.mark.parametrize("strict", [False, True])
def test_youden_per_resample_equals_explicit_loop(strict):
    y, s = _data(11, n=90, decimals=1)
    res = draw_resamples(len(y), n_resamples=30, seed=5)
    got = evaluate_counts(tie_groups(s, y), counts_matrix(res.counts()), start=None, strict=strict)
    for b in range(res.n_resamples):
        idx = res.indices(b)
        want = _study_rule(y[idx], s[idx], strict)
        for k, v in want.items():
            assert got[k][b] == pytest.approx(v, abs=1e-12, nan_ok=True), (b, k)


def test_fixed_threshold_on_resamples_equals_explicit_loop():
    y, s = _data(12, n=70, decimals=1)
    t = youden_threshold(y, s)
    groups = tie_groups(s, y)
    res = draw_resamples(len(y), n_resamples=20, seed=1)
    got = evaluate_counts(groups, counts_matrix(res.counts()), start=groups.start_at(t))
    for b in range(res.n_resamples):
        idx = res.indices(b)
        want = threshold_metrics(y[idx], s[idx], t)
        for k, v in want.items():
            assert got[k][b] == pytest.approx(v, abs=1e-12, nan_ok=True)


def test_val_youden_reaches_the_test_points_through_the_tables():
    import pandas as pd

    from cxrinit.evaluation import bootstrap_metrics

    val_s, val_y = [0.1, 0.4, 0.35, 0.8], [0.0, 0.0, 1.0, 1.0]
    test_s, test_y = [0.9, 0.8, 0.7, 0.2, 0.85, 0.5], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    df = pd.DataFrame({"image_id": [f"i{k}" for k in range(10)], "split": ["val"] * 4 + ["test"] * 6,
                       "patient_id": [f"p{k}" for k in range(10)], "prob_x": val_s + test_s, "label_x": val_y + test_y})
    points, _ = bootstrap_metrics({"dinov2": df}, source="hand", n_resamples=5)
    row = points.set_index("finding").loc["x"]
    assert row["threshold"] == 0.8
    assert row[["sensitivity", "specificity", "accuracy", "f1"]].tolist() == pytest.approx([2 / 3, 2 / 3, 4 / 6, 4 / 6])
    points, _ = bootstrap_metrics({"dinov2": df}, source="hand", n_resamples=5, strict_threshold=True)
    assert points.set_index("finding").loc["x", "sensitivity"] == pytest.approx(1 / 3)
