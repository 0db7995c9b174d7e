"""One self-supervised pretraining run as a library function: :func:`pretrain_cell`.

The Kedro node builds an :class:`SSLCell` from its settings (which images, which start weights); MLflow
wraps it from outside (:mod:`cxrinit.tracking`). Nothing here imports Kedro or MLflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from cxrinit.models import InputContract, build_model, describe, init_spec
from cxrinit.paths import portable
from cxrinit.training.data import LabeledSplit
from cxrinit.training.distributed import DistContext, init_distributed

from .config import CropOptions, DinoOptions, ProbeOptions, SSLTrainOptions
from .data import StoreRows, UnlabeledImages, multi_crop
from .loop import pretrain_dino
from .probe import knn_probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeData:
    """A labelled source for the k-NN probe: its store's images and its train (memory bank) and val splits."""

    source: str
    images: Any
    train: LabeledSplit
    val: LabeledSplit


@dataclass(frozen=True)
class SSLCell:
    """Everything one pretraining run needs. ``init``: the start weights (a registry name or InitSpec
    fields; ``random`` for from-scratch); ``parts``: the unlabeled images; ``img_size``: the global views'
    (and the fine-tuned model's) side in pixels; ``out_dir``: checkpoints and the teacher backbone."""

    init: str | Mapping[str, Any]
    parts: tuple[StoreRows, ...]
    img_size: int
    out_dir: Path
    dino: DinoOptions = field(default_factory=DinoOptions)
    crops: CropOptions = field(default_factory=CropOptions)
    train: SSLTrainOptions = field(default_factory=SSLTrainOptions)
    probe: ProbeOptions = field(default_factory=ProbeOptions)
    probe_data: ProbeData | None = None
    inits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    normalization: str = "init"
    device: str = "auto"
    resume: bool = True
    registry_key: str = "selfsupervised.registry"


def _portable_spec(spec: Any) -> dict[str, Any]:
    return json.loads(json.dumps({**spec.to_dict(), "file": portable(spec.file) if spec.file else None}, default=str))


def _part_identity(part: StoreRows) -> dict[str, Any]:
    """A part of the images by content: its store's fingerprint (items, recipe), resolution and rows."""
    fingerprint = part.path.parent / "fingerprint.json"
    found = json.loads(fingerprint.read_text()) if fingerprint.is_file() else {}
    store = {k: found.get(k) for k in ("items_hash", "n_items", "recipe")} if found else portable(part.path)
    return {"name": part.name, "store": store, "size": part.path.name,
            "rows": hashlib.sha256(np.asarray(part.rows, dtype=np.int64).tobytes()).hexdigest()}


def ssl_identity(cell: SSLCell, **context: Any) -> str:
    """A hash of everything that decides what a pretraining run learns: the settings, the start weights,
    which images of which stores (by the stores' fingerprints, not their paths) and ``context``."""
    init = _portable_spec(init_spec(cell.init, cell.inits))
    parts = [_part_identity(part) for part in cell.parts]
    probe = None
    if cell.probe_data is not None:
        d = cell.probe_data
        probe = {"source": d.source, "train": hashlib.sha256(d.train.rows.tobytes() + d.train.labels.tobytes()).hexdigest(),
                 "val": hashlib.sha256(d.val.rows.tobytes() + d.val.labels.tobytes()).hexdigest()}
    text = json.dumps({"init": init, "parts": parts, "img_size": cell.img_size, "dino": cell.dino.model_dump(mode="json"),
                       "crops": cell.crops.model_dump(mode="json"), "train": cell.train.model_dump(mode="json"),
                       "probe": [cell.probe.model_dump(mode="json"), probe], "normalization": cell.normalization,
                       "context": context}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class SSLCellRun:
    """A finished pretraining run: its ``summary`` (card fields, ``history``), the teacher backbone, its contract."""

    summary: dict[str, Any]
    backbone: nn.Module
    contract: InputContract


def pretrain_cell(cell: SSLCell, *, callbacks: Iterable[Any] = (), ctx: DistContext | None = None) -> SSLCellRun:
    """Pretrain with DINO from ``cell.init`` on ``cell.parts``; probe before and after when ``probe_data`` is set.

    Raises ``WeightsUnavailable`` when the start weights are not on this machine, ``ValueError`` for
    fewer images than a batch or a checkpoint of other settings.
    """
    ctx = ctx or init_distributed(cell.device)
    spec = init_spec(cell.init, cell.inits)
    registry_key = "init" if isinstance(cell.init, Mapping) else cell.registry_key
    backbone, contract = build_model(spec, 0, cell.img_size, normalization=cell.normalization,  # type: ignore[arg-type]
                                     seed=cell.train.seed, registry_key=registry_key, dynamic_img_size=True)
    if ctx.is_main:
        log.info("self-supervised start weights %s (%s): %s", spec.name, spec.arch, describe(backbone))
    probes: dict[str, Any] = {}
    run_probe = cell.probe.enabled and cell.probe_data is not None
    if run_probe:
        probes["start"] = _probe(backbone, contract, cell, ctx, "start weights")
    images = UnlabeledImages(cell.parts, multi_crop(cell.crops, cell.img_size, contract))
    meta = {"init": spec.name, "arch": spec.arch, "method": "dino",
            "cell": {"init": {"name": spec.name, "arch": spec.arch, "model_kwargs": dict(spec.model_kwargs)},
                     "img_size": cell.img_size}}
    # what a checkpoint must have been trained with to be resumed: the views, the start weights, the images
    resume_key = {"crops": cell.crops.model_dump(mode="json"), "init": _portable_spec(spec),
                  "images": [_part_identity(p) for p in cell.parts]}
    result = pretrain_dino(backbone, contract, images, cell.dino, cell.train, cell.out_dir / "checkpoints", ctx=ctx,
                           callbacks=callbacks, resume=cell.resume, metadata=meta, resume_key=resume_key)
    if run_probe:
        probes["end"] = _probe(result.backbone, contract, cell, ctx, "after pretraining")
    summary = {"init": spec.name, "arch": spec.arch, "model_kwargs": dict(spec.model_kwargs), "method": "dino",
               "images": {p.name: len(p) for p in cell.parts}, "epochs_run": result.epochs_run,
               "resumed_from": result.resumed_from, "checkpoint": portable(result.checkpoint),
               "best_weights": portable(result.weights), "contract": contract.to_dict(),
               "train_config": cell.train.model_dump(mode="json"), "world_size": ctx.world_size,
               "final_loss": result.history[-1]["ssl_loss"] if result.history else None,
               "probe": probes, "history": result.history}
    return SSLCellRun(summary, result.backbone, contract)


def _probe(backbone: nn.Module, contract: InputContract, cell: SSLCell, ctx: DistContext, when: str) -> dict[str, Any]:
    assert cell.probe_data is not None
    data = cell.probe_data
    result = knn_probe(backbone, contract, data.images, data.train, data.val, cell.probe, ctx.device)
    result["source"] = data.source
    if ctx.is_main:
        log.info("k-NN probe (%s) on %s val: mean AUROC %.3f over %d finding(s) with both classes (k=%d, %d train "
                 "images, %d val images)", when, data.source, result["auroc_mean"], result["n_defined"], cell.probe.k,
                 result["n_train"], result["n_val"])
    return result


__all__ = ["ProbeData", "SSLCell", "SSLCellRun", "pretrain_cell", "ssl_identity"]
