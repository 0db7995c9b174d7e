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
    study = Node(nodes.summarize_study, inputs={"evaluation": "params:evaluation", "tracking": "tracking",
                                                "provenance": "provenance", **tables, **cards},
                 outputs={"summary": "eval_summary", "comparisons": "eval_comparisons", "study_table": "study_table",
                          "finding_table": "finding_table", "markdown": "study_report", "figures": "study_figures"},
                 name="summarize_study", tags=["summary"])
    return sum(per_source, Pipeline([])) + Pipeline([study])
