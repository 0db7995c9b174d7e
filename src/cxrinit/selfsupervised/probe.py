"""Does the representation know anything? A k-NN probe of a backbone on a labelled source's validation split."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from cxrinit.models.contract import InputContract
from cxrinit.training.data import LabeledSplit
from cxrinit.training.loader import BatchLoader, InputPipeline
from cxrinit.training.metrics import auroc_per_finding, mean_auroc
from cxrinit.training.predict import autocast
from cxrinit.training.sampler import EpochSampler

from .config import ProbeOptions

log = logging.getLogger(__name__)


@torch.no_grad()
def embed(backbone: nn.Module, images: Any, rows: np.ndarray, contract: InputContract, batch_size: int,
          device: torch.device, precision: str = "auto") -> np.ndarray:
    """L2-normalized embeddings (N, D) float32 of store ``rows`` (in the given order), at the contract's size."""
    was_training = backbone.training
    backbone.eval()
    inputs = InputPipeline(contract, device)
    sampler = EpochSampler(len(rows), batch_size, shuffle=False)
    out = np.zeros((len(rows), 0), dtype=np.float32)
    for batch in BatchLoader(images, rows, None, sampler):
        with autocast(device, precision):
            z = backbone(inputs(batch.images))
        z = nn.functional.normalize(z.float(), dim=-1).cpu().numpy()
        if out.shape[1] == 0:
            out = np.zeros((len(rows), z.shape[1]), dtype=np.float32)
        out[batch.positions] = z
    backbone.train(was_training)
    return out


def knn_scores(train: np.ndarray, labels: np.ndarray, query: np.ndarray, k: int, temperature: float) -> np.ndarray:
    """Scores (M, C) in [0, 1]: each query's ``k`` most cosine-similar training embeddings vote with weight
    exp(similarity / ``temperature``) (Wu et al. 2018, as in DINO's k-NN evaluation); a finding's score is
    the weighted share of positive votes among the neighbours annotated for it (NaN labels do not vote;
    NaN when none of the ``k`` is annotated). ``train`` (N, D) and ``query`` (M, D) are L2-normalized."""
    k = min(k, len(train))
    sims = query @ train.T
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    weights = np.exp(np.take_along_axis(sims, idx, axis=1) / temperature)  # (M, k)
    votes = labels[idx]  # (M, k, C)
    annotated = ~np.isnan(votes)
    w = weights[:, :, None] * annotated
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(annotated, votes, 0.0) * w).sum(axis=1) / w.sum(axis=1)


def knn_probe(backbone: nn.Module, contract: InputContract, images: Any, train: LabeledSplit, val: LabeledSplit,
              opts: ProbeOptions, device: torch.device) -> dict[str, Any]:
    """Validation AUROC of k-NN on ``backbone``'s embeddings: ``{"auroc_mean", "auroc": {finding: value},
    "n_train", "n_val", "n_defined"}`` (a finding with one class in validation has no AUROC: NaN)."""
    order = np.random.default_rng(0).permutation(len(train))[:opts.max_train]
    bank = embed(backbone, images, train.rows[order], contract, opts.batch_size, device)
    query = embed(backbone, images, val.rows, contract, opts.batch_size, device)
    scores = knn_scores(bank, train.labels[order], query, opts.k, opts.temperature)
    per = auroc_per_finding(np.nan_to_num(scores, nan=0.5), val.labels)
    return {"auroc_mean": mean_auroc(per), "auroc": {f: float(a) for f, a in zip(val.findings, per)},
            "n_train": int(len(order)), "n_val": int(len(val)), "n_defined": int(np.sum(~np.isnan(per)))}


__all__ = ["embed", "knn_probe", "knn_scores"]
