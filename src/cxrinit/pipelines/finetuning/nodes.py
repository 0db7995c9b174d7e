"""Nodes of the ``finetuning`` pipeline: one cell per (source, initialization)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit.config import PRETRAINED_INIT, SSL_INIT, FinetuningSettings, LabelSettings
from cxrinit.datasets import StoreSet
from cxrinit.models import WeightsUnavailable
from cxrinit.pipelines.cells import EMPTY_PREDICTIONS, cell_config, preprocessing, skipped, store_size
from cxrinit.provenance import Provenance
from cxrinit.tracking import TrackingConfig, track_cell

STAGE = "finetuning"
log = logging.getLogger(__name__)


#: The stage that makes each initialization trained by this project (the arms that read a card).
MADE_BY = {PRETRAINED_INIT: "pretraining", SSL_INIT: "selfsupervised"}


def pretrained_weights(card: dict[str, Any], dest: Path, tracking: TrackingConfig) -> str:
    """The weights of an initialization this project trained (``mimic``: ``best.safetensors``; ``ssl``:
    the teacher backbone): the copy already in this cell's folder, else from its registered MLflow
    version, else the training stage's own file.

    Kept as ``dest/<model>-v<version>/best.safetensors``: a stable path per version, so an interrupted
    fine-tune resumes, a new version of the initialization starts a new run, and a project pulled with
    ``dvc pull`` (which restores this copy, not the MLflow store that made it) needs no registry.
    """
    registry = card.get("registry")
    if registry and tracking.enabled:
        import mlflow

        target = dest / f"{registry['name']}-v{registry['version']}"
        filename = Path(card.get("best_weights") or "best.safetensors").name
        here = target / filename
        if here.is_file():
            return str(here)
        mlflow.set_tracking_uri(tracking.tracking_uri)
        target.mkdir(parents=True, exist_ok=True)
        try:
            return mlflow.artifacts.download_artifacts(run_id=registry["run_id"],
                                                       artifact_path=f"weights/{filename}", dst_path=str(target))
        except mlflow.exceptions.MlflowException as err:  # another machine's run: the cell's file is the same
            if not Path(card.get("best_weights") or "").is_file():
                stage = MADE_BY.get(card.get("init", ""), card.get("stage", "pretraining"))
                raise FileNotFoundError(
                    f"the initialization {registry['name']} v{registry['version']} is neither in {target} nor in "
                    f"this MLflow store ({err.message}) nor at {card.get('best_weights')!r}: `dvc pull` it, or run "
                    f"`kedro run --pipelines {stage}` here") from None
            log.info("initialization %s v%s is not in this MLflow store (%s): using %s", registry["name"],
                     registry["version"], err.message, card["best_weights"])
    return str(card["best_weights"])


def finetune(images: StoreSet, labels: pd.DataFrame, splits: pd.DataFrame, ontology: LabelSettings,
             finetuning: FinetuningSettings, tracking: TrackingConfig, provenance: Provenance, init: str, source: str,
             init_card: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fine-tune ``init`` on ``source``; returns the val + test predictions and the cell's card.

    ``init_card``: for the arms this project trains (``mimic``, ``ssl``), the card of their
    initialization. Cells whose weights are not on this machine, or whose initialization was skipped
    or has not run, return no predictions and a card saying why and how to make them train.
    """
    onto = ontology.ontology
    out_dir = Path(finetuning.models_dir) / source / init
    spec: Any = init
    lineage = {"init": init}
    if init in MADE_BY:
        if not init_card:
            return EMPTY_PREDICTIONS, skipped(STAGE, init, source, f"no {init} initialization for {source} yet: run "
                                              f"`kedro run --pipelines {MADE_BY[init]}` first")
        if init_card.get("skipped"):
            reason = f"its {init} initialization was skipped: {init_card['reason']}"
            return EMPTY_PREDICTIONS, skipped(STAGE, init, source, reason)
        spec = {**finetuning.registry.get(init, {}), "name": init,
                "file": pretrained_weights(init_card, out_dir / "init_weights", tracking),
                "arch": init_card["arch"], "model_kwargs": init_card.get("model_kwargs") or {}}
        if (init_card.get("registry") or {}).get("name"):
            lineage["from_model"] = f"{init_card['registry']['name']}/{init_card['registry']['version']}"
        if init == SSL_INIT:
            findings = onto.label_set(finetuning.label_set, source)  # a backbone: a new head on the study's set
        else:
            findings = onto.label_set(finetuning.mimic_label_set, source)
            if set(init_card["findings"]) != set(findings):
                if spec.get("head", "auto") == "auto":
                    spec["head"] = "reset"  # a shared initialization: its label set is not this target's
            else:
                findings = list(init_card["findings"])  # the pretrained head's order
    else:
        findings = onto.label_set(finetuning.label_set, source)
    config = cell_config(finetuning, block=STAGE, init=spec, images=images, labels=labels, splits=splits, findings=findings,
                         out_dir=out_dir)
    try:
        card, tables = track_cell(tracking, config, stage=STAGE, init=init, source=source,
                                  model_name=tracking.model_name("model_name", source=source, init=init),
                                  lineage=lineage, preprocessing=preprocessing(images, store_size(finetuning, images)),
                                  provenance=provenance)
    except WeightsUnavailable as err:
        return EMPTY_PREDICTIONS, skipped(STAGE, init, source, str(err))
    predictions = pd.concat(tables.values(), ignore_index=True) if tables else EMPTY_PREDICTIONS
    return predictions, card
