"""Fine-tuning engine: batch loader over the pixel store, on-device augmentation, loop, checkpoints, DDP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "AugmentConfig": "config",
    "PRESETS": "config",
    "TrainConfig": "config",
    "ArrayStore": "data",
    "ImageStore": "data",
    "LabeledSplit": "data",
    "assemble_split": "data",
    "open_store": "data",
    "pos_weight": "data",
    "resolve_rows": "data",
    "DistContext": "distributed",
    "init_distributed": "distributed",
    "FitResult": "loop",
    "fit": "loop",
    "masked_bce": "loss",
    "prediction_table": "predict",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .config import PRESETS, AugmentConfig, TrainConfig
    from .data import ArrayStore, ImageStore, LabeledSplit, assemble_split, open_store, pos_weight, resolve_rows
    from .distributed import DistContext, init_distributed
    from .loop import FitResult, fit
    from .loss import masked_bce
    from .predict import prediction_table
