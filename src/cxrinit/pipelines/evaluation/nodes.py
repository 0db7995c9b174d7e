"""Nodes of the ``evaluation`` pipeline: thin calls into :mod:`cxrinit.evaluation.study`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxrinit.config import EvaluationSettings
from cxrinit.provenance import Provenance
from cxrinit.tracking import TrackingConfig, log_evaluation

#: The per-source tables the study summary reads, in the keys ``<source>.<part>`` of its inputs.
PARTS = ("points", "replicates", "comparisons")
#: Input keys ``card:<source>.<init>``: every configured cell's card (the arms the table lists).
CARD = "card:"


def evaluate_source(evaluation: EvaluationSettings, provenance: Provenance, source: str,
                    **predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Any]:
    """Bootstrap and compare every trained model of ``source`` (``predictions`` keyed by init).

    Returns (point estimates, replicates, pairwise comparisons, ROC ``matplotlib`` Figure); empty when
    nothing trained. (Typed ``Any``: Kedro resolves node annotations when it builds the pipelines,
    and matplotlib loads only when a node runs.)
    """
    from cxrinit.evaluation.study import evaluate_source as evaluate

    result = evaluate(predictions, evaluation, source, provenance)
    return result.points, result.replicates, result.comparisons, result.roc


def summarize_study(evaluation: EvaluationSettings, tracking: TrackingConfig, provenance: Provenance,
                    not_cells: dict[str, dict[str, str]] | None = None, **tables: Any) -> dict[str, Any]:
    """All sources together (``tables`` keyed ``<source>.points``, ``.replicates``, ``.comparisons``, and
    ``card:<source>.<init>`` for every configured cell). ``not_cells``: per source, the configured arms
    that are no cell of it (the MIMIC arm on a source its initialization does not target), listed in
    the table with why.

    Returns the summary, adjusted comparisons, study tables, markdown report and figures, which are
    also logged to the ``kedro run``'s MLflow run (with each cell's headline metrics on its own run).
    """
    from cxrinit.evaluation.study import SourceResult, arms_table
    from cxrinit.evaluation.study import summarize_study as summarize

    cards: dict[str, dict[str, Any]] = {}
    for key in [k for k in tables if k.startswith(CARD)]:
        source, init = key[len(CARD):].split(".", 1)
        cards.setdefault(source, {})[init] = tables.pop(key)
    for source, reasons in (not_cells or {}).items():
        for init, why in reasons.items():
            cards.setdefault(source, {})[init] = {"skipped": True, "reason": why}
    sources = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in tables))
    results = {s: SourceResult(*(tables[f"{s}.{part}"] for part in PARTS)) for s in sources}
    points = [r.points for r in results.values() if not r.empty]
    arms = arms_table(pd.concat(points, ignore_index=True) if points else pd.DataFrame(), cards=cards)
    outputs = summarize(results, evaluation, arms=arms, provenance=provenance)
    log_evaluation(tracking, outputs, cards=cards, provenance=provenance)
    return outputs
