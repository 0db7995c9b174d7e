"""Nodes of the ``pretraining`` pipeline: supervised MIMIC-CXR initializations, one per target label set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit import tracking
from cxrinit.datasets import StoreSet
from cxrinit.labels import check_pretraining_leakage, ontology_from_dict
from cxrinit.pipelines.training_cell import run_tracked_cell, skipped


def pretrain_mimic(images: StoreSet, labels: pd.DataFrame, splits: pd.DataFrame, ontology: dict,
                   pretraining: dict[str, Any], target: str) -> dict[str, Any]:
    """Train the MIMIC initialization for ``target`` on MIMIC's train split (val for model selection).

    ``pretraining.mode``: ``per_target`` (the study: one model per target label set, head kept) or
    ``shared`` (one model on the union of all targets' label sets, a fresh head per target).
    """
    if target not in pretraining.get("targets", []):
        return skipped("pretraining", "mimic", target, f"{target} is not in pretraining.targets")
    onto = ontology_from_dict(ontology, origin="conf/base/labels.yml")
    label_set = pretraining.get("label_set", "mimic_shared")
    shared = pretraining.get("mode", "per_target") == "shared"
    if shared:
        findings = list(dict.fromkeys(f for t in pretraining["targets"]
                                      for f in onto.label_set(f"{label_set}/{t}", "mimic")))
    else:
        findings = onto.label_set(f"{label_set}/{target}", "mimic")
    used = splits[splits["split"].isin(["train", "val"])]
    # MIMIC is also a fine-tuning target: none of its held-out patients may train the initialization.
    check_pretraining_leakage(used[used["split"] == "train"], splits)
    name = "shared" if shared else target
    registry = dict(pretraining.get("registry") or {})
    init = pretraining.get("init", "imagenet21k")
    card, _ = run_tracked_cell(
        "pretraining", init=f"mimic<-{init}", source=name, images=images, labels=labels, splits=used,
        findings=findings, settings=pretraining, init_spec=init, registry=registry,
        out_dir=Path(pretraining.get("models_dir", "data/06_models")) / "mimic_init" / name,
        model_name=tracking.current_config().registry.get("init_model_name", "cxrinit-init-{init}-{labelset}")
        .format(init="mimic", labelset=name),
        lineage={"init": init, "trained_on": "mimic/train", "label_set": f"{label_set}/{name}"})
    return {**card, "target": target, "findings": findings}
