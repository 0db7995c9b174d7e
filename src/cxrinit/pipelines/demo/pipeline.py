"""Wiring of the ``demo`` pipeline: one namespace per source (``kedro run --pipeline demo --namespaces nih``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.demo.tree import DEMO_SOURCES
from cxrinit.pipelines.bind import bind
from cxrinit.pipelines.demo.nodes import plan_demo_source


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                bind(plan_demo_source, source=source),
                inputs="params:demo",
                outputs=[f"{source}.raw", f"{source}.demo_truth"],
                name="plan_demo_source",
                namespace=source,
                tags=["demo"],
            )
            for source in DEMO_SOURCES
        ]
    )
