"""Wiring of the ``demo`` pipeline: one namespace per source (``kedro run --pipeline demo --namespaces nih``)."""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from cxrinit.demo.tree import DEMO_SOURCES
from cxrinit.pipelines.demo.nodes import plan_demo_source


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                update_wrapper(partial(plan_demo_source, source=source), plan_demo_source),
                inputs="params:demo",
                outputs=[f"{source}.raw", f"{source}.demo_truth"],
                name="plan_demo_source",
                namespace=source,
                tags=["demo"],
            )
            for source in DEMO_SOURCES
        ]
    )
