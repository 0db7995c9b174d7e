"""Nodes of the ``pretraining`` pipeline: supervised MIMIC-CXR initializations, per target label set or shared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit.config import LabelSettings, PretrainingSettings
from cxrinit.datasets import StoreSet
from cxrinit.labels import check_pretraining_leakage
from cxrinit.models import WeightsUnavailable
from cxrinit.pipelines.cells import cell_config, preprocessing, skipped, store_size
from cxrinit.provenance import Provenance
from cxrinit.tracking import TrackingConfig, track_cell

STAGE = "pretraining"


def pretrain(images: StoreSet, labels: pd.DataFrame, splits: pd.DataFrame, ontology: LabelSettings,
             pretraining: PretrainingSettings, tracking: TrackingConfig, provenance: Provenance, cell: str,
             targets: tuple[str, ...]) -> dict[str, Any]:
    """Train the supervised initialization ``cell`` on the pretraining source's train split (val selects).

    ``targets``: the sources it serves. One target (``per_target``, the study): trained on what that
    target shares with the source, head kept for it. Several (``shared``): one model on the union of
    their label sets, a fresh head per target. Returns the card (``findings``, ``targets``, registry).
    """
    onto = ontology.ontology
    source = pretraining.source
    findings = list(dict.fromkeys(f for t in targets for f in onto.label_set(f"{pretraining.label_set}/{t}", source)))
    used = splits[splits["split"].isin(["train", "val"])]
    # The pretraining source is also a fine-tuning target: none of its held-out patients may train the initialization.
    check_pretraining_leakage(used[used["split"] == "train"], splits)
    init = pretraining.init
    name = f"{source}<-{init}"
    config = cell_config(pretraining, block=STAGE, init=init, images=images, labels=labels, splits=used, findings=findings,
                         out_dir=Path(pretraining.models_dir) / "mimic_init" / cell)
    lineage = {"init": init, "trained_on": f"{source}/train", "label_set": f"{pretraining.label_set}/{cell}"}
    try:
        card, _ = track_cell(tracking, config, stage=STAGE, init=name, source=cell,
                             model_name=tracking.model_name("init_model_name", init=source, labelset=cell),
                             lineage=lineage, preprocessing=preprocessing(images, store_size(pretraining, images)),
                             provenance=provenance)
    except WeightsUnavailable as err:
        card = skipped(STAGE, name, cell, str(err))
    return {**card, "targets": list(targets), "findings": findings}
