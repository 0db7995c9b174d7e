"""Wiring of the ``selfsupervised`` pipeline: one namespace ``ssl_init``, when ``ssl`` is an arm.

Its node reads the pixel store and splits of the sources it pretrains on and of the probe source (and of
every source when it reads folders: their held-out images are refused there), and the probe's labels.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.selfsupervised.nodes import NAMESPACE, selfsupervise
from cxrinit.pipelines.templates import bind


def create_pipeline(layout: StudyLayout) -> Pipeline:
    if not layout.ssl:
        return Pipeline([])
    reads = layout.ssl_inputs()
    tables = [f"{s}.{name}" for s in reads for name in ("images", "splits")]
    tables += [f"{layout.ssl_probe}.labels"] if layout.ssl_probe else []
    func = bind(selfsupervise, sources=reads, ssl_sources=layout.ssl_sources, probe=layout.ssl_probe,
                label_set=layout.ssl_label_set)
    node = Node(func, inputs=["params:selfsupervised", "params:ingestion", "params:labels", "tracking", "provenance",
                              *tables],
                outputs=f"{NAMESPACE}.card", name="selfsupervise", namespace=NAMESPACE)
    return Pipeline([node])
