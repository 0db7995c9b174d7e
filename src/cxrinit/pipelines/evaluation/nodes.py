"""Nodes of the ``evaluation`` pipeline: thin calls into :mod:`cxrinit.evaluation.study`."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from cxrinit.config import EvaluationSettings
from cxrinit.evaluation import SourceResult
from cxrinit.evaluation import evaluate_source as _evaluate_source
from cxrinit.evaluation import summarize_study as _summarize_study
from cxrinit.tracking import TrackingConfig, log_report

#: The per-source tables the study summary reads, in the keys ``<source>.<part>`` of its inputs.
PARTS = ("points", "replicates", "comparisons")


def evaluate_source(evaluation: EvaluationSettings, source: str,
                    **predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Figure]:
    """Bootstrap and compare every trained model of ``source`` (``predictions`` keyed by init).

    Returns (point estimates, replicates, pairwise comparisons, ROC figure); empty when nothing trained.
    """
    result = _evaluate_source(predictions, evaluation, source)
    return result.points, result.replicates, result.comparisons, result.roc


def summarize_study(evaluation: EvaluationSettings, tracking: TrackingConfig, **tables: pd.DataFrame) -> dict[str, Any]:
    """All sources together (``tables`` keyed ``<source>.points``, ``.replicates``, ``.comparisons``).

    Returns the summary, adjusted comparisons, study tables, markdown report and figures, which are
    also logged to the ``kedro run``'s MLflow run.
    """
    sources = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in tables))
    results = {s: SourceResult(*(tables[f"{s}.{part}"] for part in PARTS)) for s in sources}
    outputs = _summarize_study(results, evaluation)
    log_report(tracking, outputs, prefix="evaluation")
    return outputs
