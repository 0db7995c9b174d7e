"""Paired statistical evaluation: vectorized bootstrap metrics, significance tests, tables and plots.

Stages, each a plain function on DataFrames (one source at a time where marked):

1. :func:`bootstrap_metrics` (per source) -> ``points, replicates``
2. :func:`summarize_bootstrap` -> ``summary`` (point, mean ± SD, percentile interval)
3. :func:`compare_models` (per source) -> pairwise p-values; :func:`adjust_comparisons` (all sources)
4. :func:`results_table` / :func:`results_markdown`; :func:`plot_roc_curves`, :func:`plot_forest`,
   :func:`plot_difference_heatmap`

:func:`evaluate_source` (per source) and :func:`summarize_study` (all sources) orchestrate them, as the
Kedro pipeline does; :func:`evaluate_study` runs both in one call.
"""

from .bootstrap import THRESHOLD_RULES, bootstrap_metrics, resample_metrics, summarize_bootstrap
from .compare import adjust_comparisons, bootstrap_p_values, compare_models
from .delong import delong_test
from .metrics import METRICS, auroc, threshold_metrics, youden_threshold
from .multiplicity import adjust_p, benjamini_hochberg, holm
from .plots import plot_difference_heatmap, plot_forest, plot_roc_curves
from .predictions import MEAN, align_split, validate_predictions
from .resampling import Resamples, draw_resamples
from .study import DEFAULTS, PAPER, SourceResult, evaluate_source, evaluate_study, summarize_study
from .tables import format_results, results_markdown, results_table, to_markdown

__all__ = [
    "DEFAULTS", "MEAN", "METRICS", "PAPER", "THRESHOLD_RULES", "Resamples", "SourceResult", "adjust_comparisons",
    "adjust_p", "align_split", "auroc", "benjamini_hochberg", "bootstrap_metrics", "bootstrap_p_values",
    "compare_models", "delong_test", "draw_resamples", "evaluate_source", "evaluate_study", "format_results", "holm",
    "plot_difference_heatmap", "plot_forest", "plot_roc_curves", "resample_metrics", "results_markdown",
    "results_table", "summarize_bootstrap", "summarize_study", "threshold_metrics", "to_markdown",
    "validate_predictions", "youden_threshold",
]
