"""Wiring of the ``harmonization`` pipeline: one namespace per source, then the cross-dataset summaries."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.harmonization import nodes
from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.templates import bind, instantiate


def _template(source: str, use_pixel_store: bool) -> Pipeline:
    inputs = {"manifest": "manifest", "labels": "params:labels", "harmonization": "params:harmonization"}
    if use_pixel_store:  # without it, the run needs the manifest only (harmonization.use_pixel_store)
        inputs["images"] = "images"
    return Pipeline([
        Node(bind(nodes.harmonize_source, source=source), inputs=inputs,
             outputs=["labels", "splits", "label_drops", "label_report"], name="harmonize_source"),
    ])


def create_pipeline(layout: StudyLayout) -> Pipeline:
    per_source = sum((instantiate(_template(s, layout.harmonize_with_pixels), s) for s in layout.sources),
                     Pipeline([]))
    summaries = Pipeline([
        Node(nodes.summarize_labels, inputs={"provenance": "provenance",
                                             **{s: f"{s}.label_report" for s in layout.sources}},
             outputs=["label_prevalence", "label_prevalence_heatmap"], name="summarize_labels", tags=["summary"]),
        Node(nodes.summarize_drops, inputs={s: f"{s}.label_drops" for s in layout.sources},
             outputs="label_drop_counts", name="summarize_drops", tags=["summary"]),
    ])
    return per_source + summaries
