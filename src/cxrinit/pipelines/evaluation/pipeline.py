"""Wiring of the ``evaluation`` pipeline: one namespace per source, then the study summary."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.demo.tree import DEMO_SOURCES
from cxrinit.pipelines.bind import bind
from cxrinit.pipelines.evaluation import nodes
from cxrinit.pipelines.finetuning.pipeline import cells


def create_pipeline(**kwargs) -> Pipeline:
    per_source = []
    for source in DEMO_SOURCES:
        inputs = {init: f"{source}.{init}.predictions" for init, src in cells() if src == source}
        per_source.append(Node(
            bind(nodes.evaluate_source, source=source),
            inputs={"evaluation": "params:evaluation", **inputs},
            outputs=[f"{source}.eval_points", f"{source}.eval_replicates", f"{source}.eval_comparisons",
                     f"{source}.roc_curves"],
            name="evaluate_source", namespace=source))
    study_inputs = [f"{s}.{part}" for s in DEMO_SOURCES for part in ("eval_points", "eval_replicates",
                                                                       "eval_comparisons")]
    study = Node(nodes.summarize_study, inputs=["params:evaluation", *study_inputs],
                 outputs={"summary": "eval_summary", "comparisons": "eval_comparisons", "study_table": "study_table",
                          "finding_table": "finding_table", "markdown": "study_report", "figures": "study_figures"},
                 name="summarize_study", tags=["summary"])
    return Pipeline([*per_source, study])
