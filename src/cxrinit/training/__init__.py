"""Fine-tuning engine: batch loader over the pixel store, on-device augmentation, loop, checkpoints, DDP."""

from .augment import AugmentConfig, augment
from .config import PRESETS, TrainConfig
from .data import ArrayStore, ImageStore, LabeledSplit, assemble_split, open_store, pos_weight, resolve_rows
from .distributed import DistContext, init_distributed
from .loop import FitResult, fit
from .loss import masked_bce
from .predict import predict, prediction_table

__all__ = ["PRESETS", "ArrayStore", "AugmentConfig", "DistContext", "FitResult", "ImageStore", "LabeledSplit",
           "TrainConfig", "assemble_split", "augment", "fit", "init_distributed", "masked_bce", "open_store",
           "pos_weight", "predict", "prediction_table", "resolve_rows"]
