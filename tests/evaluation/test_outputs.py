"""Undefined findings end to end; tables, markdown and the three figures render from tiny predictions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from cxrinit.evaluation import (PAPER, bootstrap_metrics, evaluate_study, finding_table, plot_difference_heatmap,
                                plot_forest, plot_roc_curves, summarize_bootstrap)


def test_undefined_findings_are_nan_and_skipped_by_the_mean(make_predictions):
    preds = make_predictions(n_test=40, findings=("common", "rare", "blank"))
    test_rows = {k: v["split"] == "test" for k, v in preds.items()}
    first = next(i for i, r in enumerate(test_rows["dinov2"]) if r)
    for k, df in preds.items():
        df = df.copy()
        df.loc[test_rows[k], "label_blank"] = np.nan  # never annotated on test: undefined everywhere
        df.loc[test_rows[k], "label_rare"] = 0.0  # a single positive: many resamples lack it
        img = preds["dinov2"]["image_id"].iloc[first]
        df.loc[df["image_id"] == img, "label_rare"] = 1.0
        preds[k] = df
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        points, reps = bootstrap_metrics(preds, source="vindr", n_resamples=60, seed=0)
        summary = summarize_bootstrap(points, reps)
    pts = points.set_index(["init", "finding"])
    assert np.isnan(pts.loc[("dinov2", "blank"), "auroc"])
    assert pts.loc[("dinov2", "mean"), "n_findings"] == 2
    r = reps[reps.init == "dinov2"].pivot(index="resample", columns="finding", values="auroc")
    assert r["blank"].isna().all()
    assert 0 < r["rare"].isna().sum() < 60
    expected = r[["common", "rare"]].mean(axis=1, skipna=True)
    np.testing.assert_allclose(r["mean"], expected)
    s = summary.set_index(["init", "finding", "metric"])
    assert s.loc[("dinov2", "blank", "auroc"), "n_defined"] == 0
    assert np.isnan(s.loc[("dinov2", "blank", "auroc"), "mean"])
    assert s.loc[("dinov2", "rare", "auroc"), "n_defined"] == r["rare"].notna().sum()


def test_mean_is_nan_when_every_finding_is_undefined(make_predictions):
    preds = make_predictions(n_test=30, findings=("only",))
    for k, df in preds.items():
        df = df.copy()
        df.loc[df["split"] == "test", "label_only"] = 1.0
        preds[k] = df
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        points, reps = bootstrap_metrics(preds, source="vindr", n_resamples=10)
    assert points[points.finding == "mean"]["auroc"].isna().all()
    assert (points[points.finding == "mean"]["n_findings"] == 0).all()
    assert reps["auroc"].isna().all()


@pytest.mark.parametrize("options", [{}, {**PAPER, "cluster": True}])
def test_tables_markdown_and_figures_render(make_predictions, options):
    study = {"vindr": make_predictions(n_test=40, inits=("dinov2", "imagenet21k", "mimic")),
             "nih": make_predictions(n_test=30, seed=3)}
    out = evaluate_study(study, n_resamples=30, seed=0, **options)
    table = out["study_table"]
    assert list(table[["source", "init"]].itertuples(index=False, name=None)) == [
        ("vindr", "dinov2"), ("vindr", "imagenet21k"), ("vindr", "mimic"), ("nih", "dinov2"), ("nih", "imagenet21k")]
    assert {"auroc_mean", "auroc_sd", "auroc_ci_low", "auroc_ci_high", "accuracy_mean", "sensitivity_mean",
            "specificity_mean", "p_vs_mimic", "p_adj_vs_mimic", "n_images", "n_patients", "n_findings",
            "findings", "status"} <= set(table.columns)
    assert table["auroc_mean"].between(0, 1).all()
    assert (table["findings"] == "cardiomegaly;effusion").all() and (table["status"] == "trained").all()
    assert len(out["finding_table"]) == 2 * 3 + 2 * 2
    assert {"n_pos", "n_neg"} <= set(out["finding_table"].columns)
    md = out["markdown"]
    assert md.count("\n## ") == 2 and "| dinov2 |" in md and "±" in md and "p vs imagenet21k" in md
    assert "## vindr: 40 test images of" in md and "## nih: 30 test images of" in md
    # the same file names as the pipeline writes (data/08_reporting/evaluation/figures/)
    assert set(out["figures"]) >= {"roc_vindr.png", "roc_nih.png", "forest.png", "auroc_differences.png"}
    for fig in out["figures"].values():
        assert isinstance(fig, Figure)
        fig.canvas.draw()  # actually renders (Agg)
    assert len(finding_table(out["summary"])) == 10


@pytest.mark.parametrize("ci, label", [(0.95, "95%"), (0.8, "80%"), (0.999, "99.9%")])
def test_every_output_states_the_interval_it_shows(make_predictions, ci: float, label: str) -> None:
    out = evaluate_study({"vindr": make_predictions(n_test=40)}, n_resamples=30, seed=0, ci=ci)
    assert f"[{label} percentile interval]" in out["markdown"]
    assert "95%" not in out["markdown"] or label == "95%"
    xlabel = out["figures"]["forest.png"].axes[0].get_xlabel()
    assert f"{label} interval" in xlabel
    assert (out["summary"]["ci_level"] == ci).all()


def test_figures_directly(make_predictions):
    preds = make_predictions(n_test=30)
    points, reps = bootstrap_metrics(preds, source="vindr", n_resamples=10)
    assert isinstance(plot_roc_curves(preds, source="vindr"), Figure)
    assert isinstance(plot_forest(summarize_bootstrap(points, reps)), Figure)
    with pytest.raises(ValueError, match="by must be"):
        plot_difference_heatmap(reps, by="init")
