"""Nodes of the ``evaluation`` pipeline: paired bootstrap per source, then the study's tables and figures."""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from cxrinit import tracking
from cxrinit.evaluation import (PAPER, adjust_comparisons, bootstrap_metrics, compare_models, plot_difference_heatmap,
                                plot_forest, plot_roc_curves, results_markdown, results_table, summarize_bootstrap)

log = logging.getLogger(__name__)

_OPTIONS = ("n_resamples", "seed", "cluster", "threshold", "strict_threshold", "chunk_size")


def _settings(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The evaluation parameters, with the ``paper`` preset's choices applied over them."""
    settings = dict(evaluation)
    if settings.get("preset", "default") == "paper":
        settings.update(PAPER)
    return settings


def evaluate_source(evaluation: dict[str, Any], source: str,
                    **predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Figure]:
    """Bootstrap every trained model of ``source`` on the same resamples; compare every pair of them.

    ``predictions`` maps init -> its predictions table; skipped cells (no rows) take no part.
    Returns (point estimates, replicates, pairwise comparisons, ROC figure).
    """
    settings = _settings(evaluation)
    trained = {init: table for init, table in predictions.items() if (table.get("split", pd.Series()) == "test").any()}
    if not trained:
        log.warning("evaluation %s: no model with test predictions (every cell was skipped, or no test image "
                    "survived harmonization); nothing to evaluate", source)
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), Figure()
    if settings["threshold"] == "val_youden" and not any((t["split"] == "val").any() for t in trained.values()):
        log.warning("evaluation %s: no validation predictions (no val split survived harmonization), so the "
                    "thresholds of this source are fitted on each test resample, the study's rule", source)
        settings["threshold"] = "test_youden_per_resample"
    started = time.perf_counter()
    points, replicates = bootstrap_metrics(trained, source=source, **{k: settings[k] for k in _OPTIONS})
    comparisons = (compare_models(trained, points, replicates, source=source, ci=settings["ci"])
                   if len(trained) > 1 else pd.DataFrame())
    log.info("evaluation %s: %d models x %d resamples in %.1f s", source, len(trained), settings["n_resamples"],
             time.perf_counter() - started)
    return points, replicates, comparisons, plot_roc_curves(trained, source=source)


def summarize_study(evaluation: dict[str, Any], *per_source: pd.DataFrame) -> dict[str, Any]:
    """All sources together: summary (mean ± SD, CIs), adjusted comparisons, the study tables and figures.

    ``per_source`` is (points, replicates, comparisons) per source, in that order. Tables, the markdown
    report and the figures are also logged to the ``kedro run``'s MLflow run.
    """
    settings = _settings(evaluation)
    if not any(len(t) for t in per_source[0::3]):
        raise ValueError("evaluation: no source has a trained model yet; run the finetuning pipeline first "
                         "(every cell it skipped says why in data/06_models/<source>/<init>.card.json)")
    points = pd.concat([t for t in per_source[0::3] if len(t)], ignore_index=True)
    replicates = pd.concat([t for t in per_source[1::3] if len(t)], ignore_index=True)
    comparisons = [t for t in per_source[2::3] if len(t)]
    summary = summarize_bootstrap(points, replicates, ci=settings["ci"])
    comp = adjust_comparisons(pd.concat(comparisons, ignore_index=True), settings["adjustment"]) if comparisons else None
    figures = {"forest.png": plot_forest(summary)}
    if comp is not None:
        figures["auroc_differences.png"] = plot_difference_heatmap(comp, by="source")
        for source in comp["source"].unique():
            figures[f"auroc_differences_{source}.png"] = plot_difference_heatmap(comp, by="finding", source=source)
    outputs = {
        "summary": summary,
        "comparisons": comp if comp is not None else pd.DataFrame(),
        "study_table": results_table(summary, comp, p=settings["p"]),
        "finding_table": results_table(summary, comp, per_finding=True, p=settings["p"]),
        "markdown": results_markdown(summary, comp, p=settings["p"]),
        "figures": figures,
    }
    tracking.log_report(outputs, prefix="evaluation")
    return outputs
