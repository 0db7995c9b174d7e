"""Self-supervised pretraining (DINO, with lightly's losses, heads and transforms) on unlabeled radiographs.

No Kedro, no MLflow: :func:`pretrain_cell` runs one pretraining from plain settings; the
``selfsupervised`` pipeline and :mod:`cxrinit.tracking` wrap it. Exports load on first use (the
settings import :mod:`.config` without torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "ProbeData": "cell", "SSLCell": "cell", "SSLCellRun": "cell", "pretrain_cell": "cell", "ssl_identity": "cell",
    "CropOptions": "config", "DinoOptions": "config", "ProbeOptions": "config", "SSLTrainOptions": "config",
    "StoreRows": "data", "UnlabeledImages": "data", "multi_crop": "data", "store_rows": "data",
    "BACKBONE": "loop", "SSLRun": "loop", "pretrain_dino": "loop",
    "embed": "probe", "knn_probe": "probe", "knn_scores": "probe",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cell import ProbeData, SSLCell, SSLCellRun, pretrain_cell, ssl_identity
    from .config import CropOptions, DinoOptions, ProbeOptions, SSLTrainOptions
    from .data import StoreRows, UnlabeledImages, multi_crop, store_rows
    from .loop import BACKBONE, SSLRun, pretrain_dino
    from .probe import embed, knn_probe, knn_scores
