"""Wiring of the ``ingestion`` pipeline: one namespace per source (``--namespaces vindr``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.demo.tree import DEMO_SOURCES
from cxrinit.pipelines.bind import bind
from cxrinit.pipelines.ingestion import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node
            for s in DEMO_SOURCES
            for node in (
                Node(bind(nodes.read_metadata, source=s), inputs=[f"{s}.raw", "params:ingestion"],
                     outputs=[f"{s}.manifest", f"{s}.metadata_drops", f"{s}.reader_counts"], name="read_metadata",
                     namespace=s),
                Node(nodes.plan_pixel_store, inputs=[f"{s}.manifest", f"{s}.raw", "params:ingestion"],
                     outputs=f"{s}.images", name="build_pixel_store", namespace=s),
                Node(bind(nodes.report_ingestion, source=s),
                     inputs=[f"{s}.manifest", f"{s}.metadata_drops", f"{s}.reader_counts", f"{s}.images"],
                     outputs=[f"{s}.ingestion_report", f"{s}.ingestion_counts", f"{s}.ingestion_summary"],
                     name="report_ingestion", namespace=s),
            )
        ]
    )
