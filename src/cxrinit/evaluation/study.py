"""The whole evaluation in one call: every source's bootstrap, comparisons, tables and figures.

The stages are separate functions (see :mod:`cxrinit.evaluation`) so a pipeline can run them as
separate steps; this module strings them together for notebooks and the demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .bootstrap import bootstrap_metrics, summarize_bootstrap
from .compare import adjust_comparisons, compare_models
from .plots import plot_difference_heatmap, plot_forest, plot_roc_curves
from .tables import results_markdown, results_table

#: The study's own choices (defects included), for the ``paper`` preset: Youden re-fitted on each test
#: resample and applied as ``score > threshold``, no multiplicity correction. Its p-value ``k/B`` is
#: the ``share_a_le_b`` column; ``p_greater`` is always ``(k+1)/(B+1)``.
PAPER = {"threshold": "test_youden_per_resample", "strict_threshold": True, "adjustment": "none"}
#: Our defaults: threshold from the validation split, Benjamini-Hochberg over the whole family.
DEFAULTS = {"threshold": "val_youden", "strict_threshold": False, "adjustment": "bh"}


def evaluate_study(predictions: Mapping[str, Mapping[str, pd.DataFrame]], *, n_resamples: int = 1000, seed: int = 0,
                   cluster: bool = False, threshold: str = "val_youden", strict_threshold: bool = False,
                   chunk_size: int = 100, ci: float = 0.95, adjustment: str = "bh",
                   p: str = "one_sided") -> dict[str, Any]:
    """Evaluate ``predictions[source][init]``; returns tidy tables, the markdown report and figures.

    Keys: ``points, replicates, summary, comparisons`` (DataFrames, all sources), ``study_table``
    and ``finding_table`` (numeric), ``markdown`` (str), ``figures`` (name -> Figure).
    """
    points, replicates, comparisons, figures = [], [], [], {}
    for source, preds in predictions.items():
        pts, reps = bootstrap_metrics(preds, source=source, n_resamples=n_resamples, seed=seed, cluster=cluster,
                                      threshold=threshold, strict_threshold=strict_threshold, chunk_size=chunk_size)
        points.append(pts)
        replicates.append(reps)
        if len(preds) > 1:
            comparisons.append(compare_models(preds, pts, reps, source=source, ci=ci))
        figures[f"roc_{source}"] = plot_roc_curves(preds, source=source)
    points_df, reps_df = pd.concat(points, ignore_index=True), pd.concat(replicates, ignore_index=True)
    summary = summarize_bootstrap(points_df, reps_df, ci=ci)
    comp = adjust_comparisons(pd.concat(comparisons, ignore_index=True), adjustment) if comparisons else None
    figures["forest"] = plot_forest(summary)
    if comp is not None:
        figures["auroc_differences"] = plot_difference_heatmap(comp, by="source")
        for source in comp["source"].unique():
            figures[f"auroc_differences_{source}"] = plot_difference_heatmap(comp, by="finding", source=source)
    return {"points": points_df, "replicates": reps_df, "summary": summary, "comparisons": comp,
            "study_table": results_table(summary, comp, p=p),
            "finding_table": results_table(summary, comp, per_finding=True, p=p),
            "markdown": results_markdown(summary, comp, p=p), "figures": figures}
