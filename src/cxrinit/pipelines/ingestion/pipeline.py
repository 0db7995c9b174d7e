"""Wiring of the ``ingestion`` pipeline: one namespace per source (``--namespaces vindr``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.ingestion import nodes
from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.templates import bind, instantiate


def _template(source: str) -> Pipeline:
    return Pipeline([
        Node(bind(nodes.read_metadata, source=source),
             inputs={"root": "raw", "settings": f"params:sources.{source}", "ingestion": "params:ingestion"},
             outputs=["manifest", "metadata_drops", "reader_counts"], name="read_metadata"),
        Node(nodes.plan_pixel_store, inputs={"manifest": "manifest", "root": "raw", "ingestion": "params:ingestion"},
             outputs="images", name="build_pixel_store"),
        Node(bind(nodes.report_ingestion, source=source),
             inputs={"manifest": "manifest", "metadata_drops": "metadata_drops", "reader_counts": "reader_counts",
                     "images": "images", "root": "raw"},
             outputs=["ingestion_report", "ingestion_counts", "ingestion_summary"], name="report_ingestion"),
    ])


def create_pipeline(layout: StudyLayout) -> Pipeline:
    return sum((instantiate(_template(s), s) for s in layout.sources), Pipeline([]))
