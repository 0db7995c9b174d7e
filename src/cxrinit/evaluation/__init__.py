"""Paired statistical evaluation: vectorized bootstrap metrics, significance tests, tables and plots.

Stages, each a plain function on DataFrames (one source at a time where marked):

1. :func:`bootstrap_metrics` (per source) -> ``points, replicates``
2. :func:`summarize_bootstrap` -> ``summary`` (point, mean ± SD, percentile interval)
3. :func:`compare_models` (per source) -> pairwise p-values; :func:`adjust_comparisons` (all sources)
4. :func:`comparison_sets` / :func:`set_summary` (the findings each mean and p-value share), then
   :func:`study_table`, :func:`finding_table`, :func:`study_markdown`; :func:`plot_roc_curves`,
   :func:`plot_forest`, :func:`plot_difference_heatmap`

:func:`evaluate_source` (per source) and :func:`summarize_study` (all sources) orchestrate them, as the
Kedro pipeline does; :func:`evaluate_study` runs both in one call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "THRESHOLD_RULES": "bootstrap",
    "bootstrap_metrics": "bootstrap",
    "resample_metrics": "bootstrap",
    "summarize_bootstrap": "bootstrap",
    "adjust_comparisons": "compare",
    "bootstrap_p_values": "compare",
    "compare_models": "compare",
    "delong_test": "delong",
    "METRICS": "metrics",
    "auroc": "metrics",
    "threshold_metrics": "metrics",
    "youden_threshold": "metrics",
    "adjust_p": "multiplicity",
    "benjamini_hochberg": "multiplicity",
    "holm": "multiplicity",
    "plot_difference_heatmap": "plots",
    "plot_forest": "plots",
    "plot_roc_curves": "plots",
    "MEAN": "predictions",
    "align_split": "predictions",
    "validate_predictions": "predictions",
    "Resamples": "resampling",
    "draw_resamples": "resampling",
    "DEFAULTS": "study",
    "PAPER": "study",
    "SourceResult": "study",
    "evaluate_source": "study",
    "evaluate_study": "study",
    "summarize_study": "study",
    "arms_table": "study",
    "ComparisonSet": "sets",
    "comparison_sets": "sets",
    "set_summary": "sets",
    "finding_table": "tables",
    "format_results": "tables",
    "study_markdown": "tables",
    "study_table": "tables",
    "to_markdown": "tables",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .bootstrap import THRESHOLD_RULES, bootstrap_metrics, resample_metrics, summarize_bootstrap
    from .compare import adjust_comparisons, bootstrap_p_values, compare_models
    from .delong import delong_test
    from .metrics import METRICS, auroc, threshold_metrics, youden_threshold
    from .multiplicity import adjust_p, benjamini_hochberg, holm
    from .plots import plot_difference_heatmap, plot_forest, plot_roc_curves
    from .predictions import MEAN, align_split, validate_predictions
    from .resampling import Resamples, draw_resamples
    from .sets import ComparisonSet, comparison_sets, set_summary
    from .study import DEFAULTS, PAPER, SourceResult, arms_table, evaluate_source, evaluate_study, summarize_study
    from .tables import finding_table, format_results, study_markdown, study_table, to_markdown
