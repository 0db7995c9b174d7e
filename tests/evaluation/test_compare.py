"""Bootstrap p-values, DeLong and multiplicity adjustment against slow obvious references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cxrinit.evaluation import (adjust_comparisons, align_split, benjamini_hochberg, bootstrap_metrics, compare_models,
                                delong_test, draw_resamples, holm)

# A textbook family of eight p-values, shuffled, with BH and Holm worked out by hand:
# sorted p:        .001  .008  .039   .041   .042   .060   .074     .205
# BH  p*8/rank:    .008  .032  .104   .082   .0672  .080   .084571  .205   -> running min from the top
# Holm p*(9-rank): .008  .056  .234   .205   .168   .180   .148     .205   -> running max from the bottom
P = np.array([0.039, 0.205, 0.001, 0.074, 0.041, 0.008, 0.060, 0.042])
BH = np.array([0.0672, 0.205, 0.008, 0.074 * 8 / 7, 0.0672, 0.032, 0.080, 0.0672])
HOLM = np.array([0.234, 0.234, 0.008, 0.234, 0.234, 0.056, 0.234, 0.234])


def test_benjamini_hochberg_hand_example():
    np.testing.assert_allclose(benjamini_hochberg(P), BH, rtol=1e-12)


def test_holm_hand_example():
    np.testing.assert_allclose(holm(P), HOLM, rtol=1e-12)


def test_adjustment_skips_undefined_tests():
    p = np.array([0.01, np.nan, 0.04])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, np.nan, 0.04])
    np.testing.assert_allclose(holm(p), [0.02, np.nan, 0.04])


def _delong_direct(y, a, b):
    """DeLong by the definition: O(N+ N-) placement values, covariance of the two AUROCs."""
    keep = ~np.isnan(y)
    y, a, b = y[keep], a[keep], b[keep]
    v10, v01, aucs = [], [], []
    for s in (a, b):
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = len(v10[0]), len(v01[0])
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return aucs[0], aucs[1], (aucs[0] - aucs[1]) / np.sqrt(var)


@pytest.mark.parametrize("seed", range(3))
def test_delong_equals_direct_placement_formula(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(150) < 0.35).astype(float)
    a = np.round(rng.normal(y, 1.0), 1)
    b = np.round(0.5 * a + rng.normal(0.6 * y, 0.8), 1)
    y[rng.random(150) < 0.1] = np.nan
    got = delong_test(y, a, b)
    auc_a, auc_b, z = _delong_direct(y, a, b)
    assert (got.auc_a, got.auc_b, got.z) == pytest.approx((auc_a, auc_b, z), rel=1e-10)
    assert 0 < got.p < 1


def test_delong_undefined_for_a_single_class():
    r = delong_test(np.array([1.0, 1.0, 1.0, np.nan]), np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.3, 0.2, 0.1, 0.0]))
    assert np.isnan(r.p) and np.isnan(r.auc_a)


def test_bootstrap_p_values_equal_a_python_loop(make_predictions):
    preds = make_predictions(n_test=50, inits=("dinov2", "imagenet21k", "mimic"))
    points, reps = bootstrap_metrics(preds, source="vindr", n_resamples=40, seed=1)
    comp = compare_models(preds, points, reps, source="vindr")
    test = align_split(preds, "test", "vindr")
    res = draw_resamples(patient_ids=test.patient_ids, n_resamples=40, seed=1, source="vindr")
    loop = {}  # (init, finding) -> AUROC per resample, by sklearn on the explicit resample
    for init in test.inits:
        for j, f in enumerate(test.findings):
            vals = []
            for b in range(40):
                idx = res.indices(b)
                y, s = test.labels[idx, j], test.scores[init][idx, j]
                keep = ~np.isnan(y)
                vals.append(roc_auc_score(y[keep], s[keep]) if len(np.unique(y[keep])) == 2 else np.nan)
            loop[init, f] = np.array(vals)
    for _, row in comp.iterrows():
        if row.finding == "mean":
            a = np.nanmean([loop[row.init_a, f] for f in test.findings], axis=0)
            b = np.nanmean([loop[row.init_b, f] for f in test.findings], axis=0)
        else:
            a, b = loop[row.init_a, row.finding], loop[row.init_b, row.finding]
        k = sum(1 for x, z in zip(a, b) if x <= z)
        k_ge = sum(1 for x, z in zip(a, b) if x >= z)
        assert row.k_a_le_b == k
        assert row.p_greater == pytest.approx((k + 1) / 41)
        assert row.p_less == pytest.approx((k_ge + 1) / 41)
        assert row.p_two_sided == pytest.approx(min(1.0, 2 * min(k + 1, k_ge + 1) / 41))
    assert len(comp) == 3 * 3  # three pairs x (two findings + mean)


def test_adjust_comparisons_covers_the_whole_family(make_predictions):
    parts = []
    for source, seed in (("vindr", 0), ("nih", 1)):
        preds = make_predictions(n_test=40, seed=seed)
        points, reps = bootstrap_metrics(preds, source=source, n_resamples=20, seed=seed)
        parts.append(compare_models(preds, points, reps, source=source))
    comp = pd.concat(parts, ignore_index=True)
    adj = adjust_comparisons(comp, "bh")
    np.testing.assert_allclose(adj["p_two_sided_adj"], benjamini_hochberg(comp["p_two_sided"].to_numpy()))
    both = benjamini_hochberg(np.concatenate([comp["p_greater"], comp["p_less"]]))
    np.testing.assert_allclose(adj["p_greater_adj"], both[:len(comp)])
    assert adj["p_delong_adj"].isna().sum() == comp["p_delong"].isna().sum() == 2  # the two mean rows
    np.testing.assert_allclose(adjust_comparisons(comp, "none")["p_two_sided_adj"], comp["p_two_sided"])


def test_mean_comparison_uses_common_findings_only(make_predictions):
    preds = make_predictions(n_test=40, findings=("a", "b", "c"))
    preds["imagenet21k"] = preds["imagenet21k"].drop(columns=["prob_c", "label_c"])
    points, reps = bootstrap_metrics(preds, source="vindr", n_resamples=20, seed=0)
    comp = compare_models(preds, points, reps, source="vindr").set_index("finding")
    assert list(comp.index) == ["a", "b", "mean"]
    assert comp.loc["mean", "n_findings"] == 2
    pts = points.set_index(["init", "finding"])["auroc"]
    assert comp.loc["mean", "auroc_a"] == pytest.approx((pts["dinov2", "a"] + pts["dinov2", "b"]) / 2)
