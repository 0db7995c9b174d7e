"""Self-supervised pretraining (DINO, with lightly's losses, heads and transforms) on unlabeled radiographs.

No Kedro, no MLflow: :func:`pretrain_cell` runs one pretraining from plain settings; the
``selfsupervised`` pipeline and :mod:`cxrinit.tracking` wrap it.
"""

from .cell import ProbeData, SSLCell, SSLCellRun, pretrain_cell, ssl_identity
from .config import CropOptions, DinoOptions, ProbeOptions, SSLTrainOptions
from .data import StoreRows, UnlabeledImages, multi_crop
from .loop import BACKBONE, SSLRun, pretrain_dino
from .probe import embed, knn_probe, knn_scores

__all__ = ["BACKBONE", "CropOptions", "DinoOptions", "ProbeData", "ProbeOptions", "SSLCell", "SSLCellRun",
           "SSLRun", "SSLTrainOptions", "StoreRows", "UnlabeledImages", "embed", "knn_probe", "knn_scores",
           "multi_crop", "pretrain_cell", "pretrain_dino", "ssl_identity"]
