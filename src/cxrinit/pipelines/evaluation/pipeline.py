"""Wiring of the ``evaluation`` pipeline: one namespace per source, then the study summary (tag ``summary``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.evaluation import nodes
from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.templates import bind, instantiate

OUTPUTS = {"points": "eval_points", "replicates": "eval_replicates", "comparisons": "eval_comparisons"}


def _template(source: str, inits: list[str]) -> Pipeline:
    return Pipeline([Node(bind(nodes.evaluate_source, source=source),
                          inputs={"evaluation": "params:evaluation", "provenance": "provenance",
                                  **{i: f"{i}.predictions" for i in inits}},
                          outputs=[*OUTPUTS.values(), "roc_curves"], name="evaluate_source")])


def create_pipeline(layout: StudyLayout) -> Pipeline:
    per_source = []
    for source in layout.sources:
        per_source.append(instantiate(_template(source, [init for _, init in layout.cells(source)]), source,
                                      inputs={"provenance": "provenance"}))
    tables = {f"{s}.{part}": f"{s}.{name}" for s in layout.sources for part, name in OUTPUTS.items()}
    cards = {f"{nodes.CARD}{s}.{i}": f"{s}.{i}.card" for s in layout.sources for _, i in layout.cells(s)}
    study = Node(bind(nodes.summarize_study, not_cells=_not_cells(layout)), inputs={"evaluation": "params:evaluation", "tracking": "tracking",
                                                "provenance": "provenance", **tables, **cards},
                 outputs={"summary": "eval_summary", "comparisons": "eval_comparisons", "study_table": "study_table",
                          "finding_table": "finding_table", "controls": "study_controls", "markdown": "study_report",
                          "figures": "study_figures"},
                 name="summarize_study", tags=["summary"])
    return sum(per_source, Pipeline([])) + Pipeline([study])


def _not_cells(layout: StudyLayout) -> dict[str, dict[str, str]]:
    """Arms configured for a source that are no cell of it (the MIMIC arm off its targets), with why."""
    out: dict[str, dict[str, str]] = {}
    for source in layout.sources:
        for init in (i for i in layout.inits if (source, i) not in layout.cells(source)):
            why = (f"no cell here: {source} is the source the {init} initialization is trained on, so its held-out "
                   "patients must stay unseen" if source == layout.pretraining_source else
                   f"no cell here: {source} is not a target of the {init} initialization (sources.{source}.mimic_target)")
            out.setdefault(source, {})[init] = why
    return out
