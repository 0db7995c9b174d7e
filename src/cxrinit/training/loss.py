"""Masked, positive-weighted binary cross-entropy: NaN targets contribute nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def masked_bce(logits: Tensor, targets: Tensor, pos_weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """Mean (or ``sum``) of ``BCEWithLogits(pos_weight)`` over the non-NaN entries of ``targets``; a mean over no
    annotated entry is 0.

    Per entry: ``-(w * y * log sigmoid(z) + (1 - y) * log(1 - sigmoid(z)))`` with ``w`` the finding's pos_weight.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape")
    valid = ~torch.isnan(targets)
    filled = torch.where(valid, targets, torch.zeros((), dtype=targets.dtype, device=targets.device))
    per_entry = F.binary_cross_entropy_with_logits(logits.float(), filled.float(), pos_weight=pos_weight,
                                                   reduction="none")
    per_entry = torch.where(valid, per_entry, torch.zeros((), dtype=per_entry.dtype, device=per_entry.device))
    total = per_entry.sum()
    return total if reduction == "sum" else total / valid.sum().clamp(min=1)
