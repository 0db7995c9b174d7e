"""Wiring of the ``harmonization`` pipeline: one namespace per source, then the cross-dataset summaries."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.demo.tree import DEMO_SOURCES
from cxrinit.pipelines.bind import bind
from cxrinit.pipelines.harmonization import nodes


def create_pipeline(**kwargs) -> Pipeline:
    per_source = [
        Node(bind(nodes.harmonize_source, source=s),
             inputs=[f"{s}.manifest", f"{s}.images", "label_ontology", "params:harmonization"],
             outputs=[f"{s}.labels", f"{s}.splits", f"{s}.label_drops", f"{s}.label_report"],
             name="harmonize_source", namespace=s)
        for s in DEMO_SOURCES
    ]
    summaries = [
        Node(nodes.summarize_labels, inputs=[f"{s}.label_report" for s in DEMO_SOURCES],
             outputs=["label_prevalence", "label_prevalence_heatmap"], name="summarize_labels",
             tags=["summary"]),
        Node(nodes.summarize_drops, inputs=[f"{s}.label_drops" for s in DEMO_SOURCES],
             outputs="label_drop_counts", name="summarize_drops", tags=["summary"]),
    ]
    return Pipeline(per_source + summaries)
