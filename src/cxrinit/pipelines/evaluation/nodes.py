"""Nodes of the ``evaluation`` pipeline: thin calls into :mod:`cxrinit.evaluation.study`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from cxrinit.config import EvaluationSettings
from cxrinit.tracking import TrackingConfig, log_report

if TYPE_CHECKING:  # scikit-learn and matplotlib load when a node runs, not when Kedro builds the pipelines
    from matplotlib.figure import Figure

#: The per-source tables the study summary reads, in the keys ``<source>.<part>`` of its inputs.
PARTS = ("points", "replicates", "comparisons")


def evaluate_source(evaluation: EvaluationSettings, source: str,
                    **predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Figure]:
    """Bootstrap and compare every trained model of ``source`` (``predictions`` keyed by init).

    Returns (point estimates, replicates, pairwise comparisons, ROC figure); empty when nothing trained.
    """
    from cxrinit.evaluation.study import evaluate_source as evaluate

    result = evaluate(predictions, evaluation, source)
    return result.points, result.replicates, result.comparisons, result.roc


def summarize_study(evaluation: EvaluationSettings, tracking: TrackingConfig, **tables: pd.DataFrame) -> dict[str, Any]:
    """All sources together (``tables`` keyed ``<source>.points``, ``.replicates``, ``.comparisons``).

    Returns the summary, adjusted comparisons, study tables, markdown report and figures, which are
    also logged to the ``kedro run``'s MLflow run.
    """
    from cxrinit.evaluation.study import SourceResult
    from cxrinit.evaluation.study import summarize_study as summarize

    sources = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in tables))
    results = {s: SourceResult(*(tables[f"{s}.{part}"] for part in PARTS)) for s in sources}
    outputs = summarize(results, evaluation)
    log_report(tracking, outputs, prefix="evaluation")
    return outputs
