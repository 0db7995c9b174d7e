"""Wiring of the ``demo`` pipeline: one namespace ``demo.<source>`` per demo writer.

It runs only where ``demo.enabled`` (the demo environment): it writes the synthetic native trees
into ``<source>.raw`` and the answer keys ``demo.<source>.truth``. Its namespaces are its own, so
``--namespaces vindr`` runs the study's stages for VinDr without regenerating its demo data.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.demo.nodes import plan_demo_source
from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.templates import bind, instantiate

NAMESPACE = "demo"


def _template(source: str) -> Pipeline:
    return Pipeline([Node(bind(plan_demo_source, source=source), inputs={"demo": "params:demo"},
                          outputs=["raw", "truth"], name="plan_demo_source", tags=["demo"])])


def create_pipeline(layout: StudyLayout) -> Pipeline:
    """Every demo source of the layout; where the demo is off, every demo writer (its run is refused)."""
    if layout.demo_sources:
        sources = layout.demo_sources
    else:
        from cxrinit.demo.writers import WRITERS

        sources = tuple(WRITERS)
    return sum((instantiate(_template(s), f"{NAMESPACE}.{s}", outputs={"raw": f"{s}.raw"}) for s in sources),
               Pipeline([]))
