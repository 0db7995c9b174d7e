"""Sigmoid probabilities for a list of images, no augmentation; prediction tables in the project's contract."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from cxrinit.models.contract import InputContract

from .data import ImageStore, LabeledSplit, resolve_rows
from .distributed import DistContext, gather_rows, resolve_device
from .loader import BatchLoader, InputPipeline
from .sampler import EpochSampler

log = logging.getLogger(__name__)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` (auto / fp32 / bf16 / fp16) on ``device``."""
    dtype = amp_dtype(device, precision)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs CUDA; use bf16 or fp32 on CPU")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DDP and/or torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def predict_rows(model: nn.Module, images: Any, rows: np.ndarray, contract: InputContract, batch_size: int,
                 device: torch.device, precision: str = "auto", ctx: DistContext | None = None,
                 desc: str = "predict") -> np.ndarray:
    """Probabilities (N, C) float32 for store ``rows`` in the given order; under DDP each rank scores a shard."""
    ctx = ctx or DistContext(device=device)
    n = len(rows)
    sampler = EpochSampler(n, batch_size, shuffle=False, rank=ctx.rank, world_size=ctx.world_size)
    net = unwrap(model)
    was_training = net.training
    net.eval()
    positions, outputs = [], []
    inputs = InputPipeline(contract, device)
    start = time.perf_counter()
    bar = tqdm(total=len(sampler.shard()), desc=desc, unit="img", disable=None if ctx.is_main else True,
               leave=False)
    try:
        with torch.inference_mode(), autocast(device, precision):
            for batch in BatchLoader(images, rows, None, sampler, pin_memory=device.type == "cuda"):
                x = inputs(batch.images)
                outputs.append(torch.sigmoid(net(x).float()))
                positions.append(torch.from_numpy(batch.positions).to(device))
                bar.update(len(batch.positions))
    finally:
        bar.close()
        net.train(was_training)
    probs = gather_rows(torch.cat(outputs), ctx).cpu().numpy()
    where = gather_rows(torch.cat(positions), ctx).cpu().numpy()
    out = np.empty((n, probs.shape[1]), dtype=np.float32)
    out[where] = probs  # padding duplicates (DDP) write the same value twice
    seconds = time.perf_counter() - start
    if ctx.is_main:
        log.info("%s: %d images in %.1f s (%.0f images/s)", desc, n, seconds, n / max(seconds, 1e-9))
    return out


def predict(model: nn.Module, store: ImageStore, image_ids: Sequence[str], contract: InputContract,
            batch_size: int = 128, *, device: str | torch.device | None = None, precision: str = "auto",
            ctx: DistContext | None = None) -> np.ndarray:
    """Sigmoid probabilities (len(image_ids), num_classes), in the order of ``image_ids``; no augmentation."""
    ids = np.asarray(list(image_ids), dtype=object)
    rows, reason = resolve_rows(store, ids)
    if (bad := reason != "").any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"cannot predict {int(bad.sum())} image(s) without usable pixels, e.g. {ids[i]!r} "
                         f"({reason[i]}); assemble the split first (it drops and counts them)")
    dev = ctx.device if ctx is not None else resolve_device(device)
    model.to(dev)
    return predict_rows(model, store.images, rows, contract, batch_size, dev, precision, ctx)


def prediction_table(split: LabeledSplit, probs: np.ndarray) -> pd.DataFrame:
    """``image_id, split, patient_id, prob_<f>, label_<f>`` per finding (the predictions contract)."""
    if probs.shape != split.labels.shape:
        raise ValueError(f"probabilities {probs.shape} do not match split {split.name!r} labels {split.labels.shape}")
    table = pd.DataFrame({"image_id": split.image_ids, "split": split.name, "patient_id": split.patient_ids})
    for j, f in enumerate(split.findings):
        table[f"prob_{f}"] = probs[:, j].astype(np.float64)
        table[f"label_{f}"] = split.labels[:, j].astype(np.float64)
    return table
