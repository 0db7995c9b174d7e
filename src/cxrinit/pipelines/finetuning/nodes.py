"""Nodes of the ``finetuning`` pipeline: one cell per (initialization, source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit import tracking
from cxrinit.datasets import StoreSet
from cxrinit.labels import ontology_from_dict
from cxrinit.pipelines.training_cell import EMPTY_PREDICTIONS, run_tracked_cell, skipped


def mimic_weights(card: dict[str, Any], dest: Path) -> str:
    """The MIMIC initialization's ``best.safetensors``: from its registered MLflow version, else the local file.

    Downloaded under ``dest/<model>-v<version>/``: a stable path per version, so an interrupted fine-tune
    resumes, and a new MIMIC version starts a new run.
    """
    registry = card.get("registry")
    if registry and tracking.current_config().enabled:
        import mlflow

        target = dest / f"{registry['name']}-v{registry['version']}"
        target.mkdir(parents=True, exist_ok=True)
        return mlflow.artifacts.download_artifacts(run_id=registry["run_id"], artifact_path="weights/best.safetensors",
                                                   dst_path=str(target))
    return str(card["best_weights"])


def finetune(images: StoreSet, labels: pd.DataFrame, splits: pd.DataFrame, ontology: dict,
             finetuning: dict[str, Any], init: str, source: str,
             mimic_init: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fine-tune ``init`` on ``source``; returns the val + test predictions and the cell's card.

    Cells whose init is not in ``finetuning.inits``, whose weights are not on this machine, or (MIMIC
    arm) whose MIMIC initialization was skipped, return no predictions and a card saying why.
    """
    if init not in finetuning.get("inits", []):
        return EMPTY_PREDICTIONS, skipped("finetuning", init, source, f"{init} is not in finetuning.inits")
    if source not in finetuning.get("sources", []):
        return EMPTY_PREDICTIONS, skipped("finetuning", init, source, f"{source} is not in finetuning.sources")
    onto = ontology_from_dict(ontology, origin="conf/base/labels.yml")
    registry = {k: dict(v) for k, v in (finetuning.get("registry") or {}).items()}
    out_dir = Path(finetuning.get("models_dir", "data/06_models")) / source / init
    spec: Any = init
    lineage = {"init": init}
    if mimic_init is not None:
        if not mimic_init:
            return EMPTY_PREDICTIONS, skipped("finetuning", init, source, f"no MIMIC-CXR initialization for {source} "
                                             f"yet: run `kedro run --pipeline pretraining` first")
        if mimic_init.get("skipped"):
            return EMPTY_PREDICTIONS, skipped("finetuning", init, source,
                                              f"its MIMIC-CXR initialization was skipped: {mimic_init['reason']}")
        findings = onto.label_set(finetuning.get("mimic_label_set", "mimic_shared"), source)
        spec = {**registry.get(init, {}), "name": init, "file": mimic_weights(mimic_init, out_dir / "init_weights"),
                "arch": mimic_init["arch"], "model_kwargs": mimic_init.get("model_kwargs") or {}}
        if (mimic_init.get("registry") or {}).get("name"):
            lineage["from_model"] = f"{mimic_init['registry']['name']}/{mimic_init['registry']['version']}"
        if set(mimic_init["findings"]) != set(findings):
            spec["head"] = "reset"  # a shared MIMIC model: its label set is not this target's
        else:
            findings = list(mimic_init["findings"])  # the pretrained head's order
    else:
        findings = onto.label_set(finetuning.get("label_set", "study"), source)
    model_name = tracking.current_config().registry.get("model_name", "cxrinit-{source}-{init}")
    card, tables = run_tracked_cell(
        "finetuning", init=init, source=source, images=images, labels=labels, splits=splits, findings=findings,
        settings=finetuning, init_spec=spec, registry=registry,
        out_dir=out_dir,
        model_name=model_name.format(source=source, init=init), lineage=lineage)
    predictions = pd.concat(tables.values(), ignore_index=True) if tables else EMPTY_PREDICTIONS
    return predictions, card
