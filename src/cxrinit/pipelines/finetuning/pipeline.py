"""Wiring of the ``finetuning`` pipeline: one namespace ``<source>.<init>`` per cell (``--namespaces vindr``: all
of a source's cells).

The cells are the layout's: every source times every arm of ``finetuning.inits``; the pretrained arm
(``mimic``) only on the sources it targets, reading the card of its pretraining cell; the self-supervised
arm (``ssl``) on every source, reading the card of the selfsupervised stage.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.config import PRETRAINED_INIT, SSL_INIT
from cxrinit.pipelines.finetuning.nodes import finetune
from cxrinit.pipelines.layout import StudyLayout
from cxrinit.pipelines.templates import bind, instantiate


def _template(source: str, init: str, pretrained: str | None) -> Pipeline:
    inputs = {"images": "images", "labels": "labels", "splits": "splits", "ontology": "params:labels",
              "finetuning": "params:finetuning", "tracking": "tracking", "provenance": "provenance"}
    if pretrained:
        inputs["init_card"] = "pretrained"
    return Pipeline([Node(bind(finetune, init=init, source=source), inputs=inputs, outputs=["predictions", "card"],
                          name="finetune")])


def create_pipeline(layout: StudyLayout) -> Pipeline:
    cells = []
    for source, init in layout.cells():
        pretrained = (layout.mimic_init_card(source) if init == PRETRAINED_INIT
                      else layout.ssl_init_card() if init == SSL_INIT else None)
        inputs = {name: f"{source}.{name}" for name in ("images", "labels", "splits")}
        inputs |= {"tracking": "tracking", "provenance": "provenance"}
        if pretrained:
            inputs["pretrained"] = pretrained
        cells.append(instantiate(_template(source, init, pretrained), f"{source}.{init}", inputs=inputs))
    return sum(cells, Pipeline([]))
