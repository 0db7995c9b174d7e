"""The evaluation of a study, orchestrated in one place: per source, then across sources.

:func:`evaluate_source` bootstraps every trained model of one source on the same resamples and
compares every pair; :func:`summarize_study` turns all sources' results into the summary, the
family-wide adjusted comparisons, the study tables, the markdown report and the figures.
:func:`evaluate_study` runs both for a notebook; the Kedro ``evaluation`` pipeline runs them as
separate nodes (one per source, then the summary).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from cxrinit.config.evaluation import PAPER, EvaluationSettings
from cxrinit.provenance import Provenance

from .bootstrap import bootstrap_metrics, summarize_bootstrap
from .compare import adjust_comparisons, compare_models
from .controls import check_controls, controls_markdown
from .plots import plot_difference_heatmap, plot_forest, plot_roc_curves
from .sets import comparison_sets, set_summary
from .tables import ARM_COLUMNS, finding_table, study_markdown, study_table

log = logging.getLogger(__name__)

#: Our defaults: threshold from the validation split, Benjamini-Hochberg over the whole family.
DEFAULTS = {"threshold": "val_youden", "strict_threshold": False, "adjustment": "bh"}


@dataclass
class SourceResult:
    """One source's evaluation: point estimates, bootstrap replicates, pairwise comparisons, ROC figure."""

    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    replicates: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    roc: Figure = field(default_factory=Figure)

    @property
    def empty(self) -> bool:
        return self.points.empty


def evaluate_source(predictions: Mapping[str, pd.DataFrame], settings: EvaluationSettings,
                    source: str, provenance: Provenance | None = None) -> SourceResult:
    """Bootstrap every trained model of ``source`` on the same resamples; compare every pair of them.

    ``predictions`` maps init -> its predictions table (val + test rows); a skipped cell (no test
    rows) takes no part. Without validation predictions the thresholds fall back to the study's rule
    (fitted on each test resample), loudly.
    """
    trained = {init: t for init, t in predictions.items() if (t.get("split", pd.Series()) == "test").any()}
    if not trained:
        log.warning("evaluation %s: no model with test predictions (every cell was skipped, or no test image "
                    "survived harmonization); nothing to evaluate", source)
        return SourceResult()
    options = settings.bootstrap_options()
    if options["threshold"] == "val_youden" and not any((t["split"] == "val").any() for t in trained.values()):
        log.warning("evaluation %s: no validation predictions (no val split survived harmonization), so the "
                    "thresholds of this source are fitted on each test resample, the study's rule", source)
        options["threshold"] = "test_youden_per_resample"
    started = time.perf_counter()
    points, replicates = bootstrap_metrics(trained, source=source, **options)
    comparisons = (compare_models(trained, points, replicates, source=source, ci=settings.ci)
                   if len(trained) > 1 else pd.DataFrame())
    log.info("evaluation %s: %d models x %d resamples in %.1f s", source, len(trained), settings.n_resamples,
             time.perf_counter() - started)
    return SourceResult(points, replicates, comparisons, plot_roc_curves(trained, source=source, provenance=provenance))


def arms_table(points: pd.DataFrame, cards: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
               predictions: Mapping[str, Mapping[str, pd.DataFrame]] | None = None) -> pd.DataFrame:
    """Every configured arm per source (:data:`.tables.ARM_COLUMNS`): ``trained`` when it has points,
    else ``skipped`` with why — its card's ``reason`` (which says how to make it run), or what is missing.

    ``cards[source][init]``: the fine-tuning cards (the pipeline); ``predictions[source][init]``: the
    notebook's tables (an arm without test rows counts as skipped).
    """
    done = set(zip(points["source"], points["init"])) if len(points) else set()
    configured: dict[tuple[str, str], str] = {}
    for source, by_init in (predictions or {}).items():
        for init in by_init:
            configured[source, init] = "no test predictions: run the finetuning pipeline for this cell"
    for source, by_init in (cards or {}).items():
        for init, card in by_init.items():
            if not card:  # no card: the cell has not run
                why = f"not trained yet: run `kedro run --pipelines finetuning --namespaces {source}.{init}`"
            elif card.get("skipped"):
                why = str(card.get("reason"))
            else:
                why = ("trained, but no test predictions: its source has no test split after harmonization (see "
                       "data/08_reporting/harmonization)")
            configured[source, init] = why
    rows = [{"source": s, "init": i, "status": "trained" if (s, i) in done else "skipped",
             "note": "" if (s, i) in done else why} for (s, i), why in configured.items()]
    rows += [{"source": s, "init": i, "status": "trained", "note": ""} for s, i in done if (s, i) not in configured]
    return pd.DataFrame(rows, columns=list(ARM_COLUMNS))


def summarize_study(results: Mapping[str, SourceResult], settings: EvaluationSettings, *,
                    arms: pd.DataFrame | None = None, provenance: Provenance | None = None) -> dict[str, Any]:
    """Every source's results together: the summary, adjusted comparisons, tables, report and figures.

    Keys: ``summary``, ``comparisons`` (DataFrames), ``study_table`` (per comparison set, skipped arms
    included: :func:`.tables.study_table`) and ``finding_table`` (numeric), ``controls``
    (:func:`.controls.check_controls` of ``settings.controls``), ``markdown`` (str),
    ``figures`` (file name -> Figure). ``arms``: :func:`arms_table` (default: the trained ones);
    ``provenance`` goes on every table and figure. Raises ``ValueError`` when no source has a trained
    model.
    """
    done = {source: r for source, r in results.items() if not r.empty}
    if not done:
        why = ""
        if arms is not None and len(arms):
            why = " Skipped: " + "; ".join(f"{r.source}/{r.init}: {r.note}" for r in arms.itertuples())
        raise ValueError("evaluation: no source has a trained model yet; run the finetuning pipeline first "
                         "(every cell it skipped says why in data/06_models/<source>/<init>.card.json)." + why)
    points = pd.concat([r.points for r in done.values()], ignore_index=True)
    replicates = pd.concat([r.replicates for r in done.values()], ignore_index=True)
    comparisons = [r.comparisons for r in done.values() if len(r.comparisons)]
    summary = summarize_bootstrap(points, replicates, ci=settings.ci)
    comp = adjust_comparisons(pd.concat(comparisons, ignore_index=True), settings.adjustment) if comparisons else None
    sets = comparison_sets(points)
    by_set = set_summary(points, replicates, sets, ci=settings.ci)
    arms = arms if arms is not None else arms_table(points)
    n = points[points["finding"] == "mean"].drop_duplicates("source").set_index("source")["n_images"].to_dict()
    figures = {"forest.png": plot_forest(by_set, provenance=provenance)}
    if comp is not None:
        figures["auroc_differences.png"] = plot_difference_heatmap(comp, by="source", n_images=n, provenance=provenance)
        for source in comp["source"].unique():
            figures[f"auroc_differences_{source}.png"] = plot_difference_heatmap(
                comp, by="finding", source=source, n_images=n, provenance=provenance)
    table = study_table(by_set, comp, p=settings.p, arms=arms)
    per_finding = finding_table(summary, points, comp, p=settings.p)
    if provenance is not None:
        for t in (table, per_finding):
            t["environment"], t["git_commit"], t["synthetic_data"] = (provenance.environment, provenance.git_commit,
                                                                      provenance.synthetic)
    options = settings.bootstrap_options()
    controls = check_controls(comp, settings.controls)
    markdown = study_markdown(by_set, summary, points, comp, sets, p=settings.p, arms=arms, provenance=provenance,
                              cluster=settings.cluster, threshold=options["threshold"])
    if settings.controls:  # first, before the sources: whether the numbers below can be trusted at all
        head, sep, rest = markdown.partition("\n## ")
        markdown = head + "\n" + controls_markdown(controls, settings.controls) + sep + rest
    return {
        "summary": summary,
        "comparisons": comp if comp is not None else pd.DataFrame(),
        "study_table": table,
        "finding_table": per_finding,
        "controls": controls,
        "markdown": markdown,
        "figures": figures,
    }


def evaluate_study(predictions: Mapping[str, Mapping[str, pd.DataFrame]],
                   settings: EvaluationSettings | None = None, provenance: Provenance | None = None,
                   **options: Any) -> dict[str, Any]:
    """Evaluate ``predictions[source][init]`` in one call (a notebook's entry point).

    ``settings`` (or ``options``, the fields of :class:`~cxrinit.config.EvaluationSettings`, e.g.
    ``n_resamples=1000, seed=2024``) choose the statistics. An init without test predictions is listed
    as skipped. Returns :func:`summarize_study`'s keys plus ``points`` and ``replicates`` (all sources)
    and ``roc_<source>`` figures.
    """
    settings = settings or EvaluationSettings.model_validate(options)
    results = {source: evaluate_source(preds, settings, source, provenance) for source, preds in predictions.items()}
    points = [r.points for r in results.values() if not r.empty]
    arms = arms_table(pd.concat(points, ignore_index=True) if points else pd.DataFrame(), predictions=predictions)
    out = summarize_study(results, settings, arms=arms, provenance=provenance)
    out["points"] = pd.concat([r.points for r in results.values() if not r.empty], ignore_index=True)
    out["replicates"] = pd.concat([r.replicates for r in results.values() if not r.empty], ignore_index=True)
    out["figures"].update({f"roc_{source}.png": r.roc for source, r in results.items() if not r.empty})
    return out


__all__ = ["DEFAULTS", "PAPER", "SourceResult", "arms_table", "evaluate_source", "evaluate_study",
           "summarize_study"]
