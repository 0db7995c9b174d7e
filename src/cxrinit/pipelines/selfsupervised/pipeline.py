"""Wiring of the ``selfsupervised`` pipeline: one namespace ``ssl_init``, when ``ssl`` is an arm.

Its node reads every enabled source's pixel store and splits (the training images of
``selfsupervised.sources``, and every source's held-out images to refuse them in a folder) and the
probe source's labels.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.selfsupervised.nodes import NAMESPACE, selfsupervise
from cxrinit.pipelines.templates import bind


def create_pipeline(layout: StudyLayout) -> Pipeline:
    if not layout.ssl:
        return Pipeline([])
    tables = [f"{s}.{name}" for s in layout.sources for name in ("images", "splits")]
    tables += [f"{layout.ssl_probe}.labels"] if layout.ssl_probe else []
    func = bind(selfsupervise, sources=layout.sources, ssl_sources=layout.ssl_sources, probe=layout.ssl_probe,
                label_set=layout.ssl_label_set)
    node = Node(func, inputs=["params:selfsupervised", "params:ingestion", "params:labels", "tracking", "provenance",
                              *tables],
                outputs=f"{NAMESPACE}.card", name="selfsupervise", namespace=NAMESPACE)
    return Pipeline([node])
