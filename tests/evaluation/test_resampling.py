"""Resamples: deterministic, chunk-independent, clustered by patient, shared by every model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cxrinit.evaluation import align_split, bootstrap_metrics, draw_resamples, resample_metrics


def test_counts_are_deterministic_and_independent_of_chunking():
    res = draw_resamples(50, n_resamples=37, seed=9, source="nih")
    whole = res.counts()
    assert whole.shape == (37, 50) and whole.dtype == np.uint8
    assert (whole.sum(axis=1) == 50).all()
    assert np.array_equal(res.counts(5, 17), whole[5:17])
    assert np.array_equal(np.vstack([c for _, c in res.chunks(7)]), whole)
    assert np.array_equal(draw_resamples(50, n_resamples=37, seed=9, source="nih").counts(), whole)
    assert not np.array_equal(draw_resamples(50, n_resamples=37, seed=9, source="vindr").counts(), whole)
    assert np.array_equal(np.bincount(res.indices(3), minlength=50), whole[3])


def test_cluster_bootstrap_keeps_patients_together():
    patients = np.array(["a", "a", "a", "b", "c", "c", "d", "e", "e", "e", "e"])
    res = draw_resamples(patient_ids=patients, n_resamples=200, seed=0, cluster=True)
    counts = res.counts()
    for p in np.unique(patients):
        members = counts[:, patients == p]
        assert (members == members[:, :1]).all()  # every image of a patient enters equally often
    first = [np.flatnonzero(patients == p)[0] for p in np.unique(patients)]
    assert (counts[:, first].sum(axis=1) == 5).all()  # five patient draws per resample
    assert len(np.unique(counts.sum(axis=1))) > 1  # so the number of images varies


def test_resample_metrics_do_not_depend_on_chunk_size(make_predictions):
    test = align_split(make_predictions(n_test=60), "test", "vindr")
    res = draw_resamples(test.n_images, n_resamples=45, seed=2, source="vindr")
    a = resample_metrics(test, res, chunk_size=10)
    b = resample_metrics(test, res, chunk_size=1000)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_paired_resamples_are_shared_across_models(make_predictions):
    preds = make_predictions(n_test=60, findings=("effusion",))
    # A third arm with the first arm's predictions in another row order must get identical replicates.
    preds["copy"] = preds["dinov2"].sample(frac=1.0, random_state=42)
    _, reps = bootstrap_metrics(preds, source="vindr", n_resamples=30, seed=4)
    effusion = reps[reps.finding == "effusion"]
    auc = {i: g.sort_values("resample")["auroc"].to_numpy() for i, g in effusion.groupby("init")}
    np.testing.assert_array_equal(auc["copy"], auc["dinov2"])
    # And every init's replicate b is its AUROC on the same explicit resample b.
    test = align_split(preds, "test", "vindr")
    res = draw_resamples(patient_ids=test.patient_ids, n_resamples=30, seed=4, source="vindr")
    y = test.labels[:, 0]
    for b in range(30):
        idx = res.indices(b)
        keep = ~np.isnan(y[idx])
        for init in ("dinov2", "imagenet21k"):
            s = test.scores[init][idx, 0]
            assert auc[init][b] == pytest.approx(roc_auc_score(y[idx][keep], s[keep]), abs=1e-12)
