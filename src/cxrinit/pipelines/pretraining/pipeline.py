"""Wiring of the ``pretraining`` pipeline: the supervised initialization(s) of the ``mimic`` arm.

One namespace ``mimic_init.<target>`` per MIMIC target (``pretraining.mode: per_target``, the study),
or one ``mimic_init.shared`` serving every target (``shared``). No cell when ``mimic`` is not an arm.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from cxrinit.pipelines.layout import PRETRAINING_NAMESPACE, SHARED, StudyLayout
from cxrinit.pipelines.pretraining.nodes import pretrain
from cxrinit.pipelines.templates import bind, instantiate


def _template(cell: str, targets: tuple[str, ...]) -> Pipeline:
    return Pipeline([Node(bind(pretrain, cell=cell, targets=targets),
                          inputs={"images": "images", "labels": "labels", "splits": "splits",
                                  "ontology": "params:labels", "pretraining": "params:pretraining",
                                  "tracking": "tracking", "provenance": "provenance"},
                          outputs="card", name="pretrain")])


def create_pipeline(layout: StudyLayout) -> Pipeline:
    source = layout.pretraining_source
    inputs = {name: f"{source}.{name}" for name in ("images", "labels", "splits")}
    inputs |= {"tracking": "tracking", "provenance": "provenance"}
    cells = []
    for cell in layout.pretraining_cells():
        targets = layout.mimic_targets if cell == SHARED else (cell,)
        cells.append(instantiate(_template(cell, targets), f"{PRETRAINING_NAMESPACE}.{cell}", inputs=inputs))
    return sum(cells, Pipeline([]))
