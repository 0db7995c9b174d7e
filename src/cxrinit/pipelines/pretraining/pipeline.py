"""Wiring of the ``pretraining`` pipeline: one MIMIC-CXR initialization per target (``--namespaces mimic_init.vindr``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.bind import bind
from cxrinit.pipelines.pretraining.nodes import pretrain_mimic

#: Targets that fine-tune from MIMIC (MIMIC itself is not one: the initialization was trained on it).
TARGETS = ("vindr", "nih", "chexpert", "uka", "padchest")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(bind(pretrain_mimic, target=t),
             inputs=["mimic.images", "mimic.labels", "mimic.splits", "label_ontology", "params:pretraining"],
             outputs=f"mimic_init.{t}", name="pretrain_mimic", namespace=f"mimic_init.{t}")
        for t in TARGETS
    ])
