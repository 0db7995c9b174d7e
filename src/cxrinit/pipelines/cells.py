"""What the pretraining and finetuning nodes share: a cell's configuration from its settings, skipped cards."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxrinit.config import TrainingSettings
from cxrinit.datasets import StoreSet

if TYPE_CHECKING:  # torch and timm load when a cell trains, not when Kedro builds the pipelines
    from cxrinit.training.cell import CellConfig

log = logging.getLogger(__name__)

#: Predictions-contract columns of an empty (skipped) cell.
EMPTY_PREDICTIONS = pd.DataFrame({"image_id": pd.Series(dtype=str), "split": pd.Series(dtype=str),
                                  "patient_id": pd.Series(dtype=str)})


def skipped(stage: str, init: str, source: str, reason: str) -> dict[str, Any]:
    """The card of a cell that did not train, saying why (and how to make it train)."""
    log.warning("%s %s/%s skipped: %s", stage, init, source, reason)
    return {"stage": stage, "init": init, "source": source, "skipped": True, "reason": reason}


def store_size(settings: TrainingSettings, images: StoreSet) -> int:
    """The pixel-store resolution a cell reads: ``store_size``, else the store's first."""
    return int(settings.store_size or images.sizes[0])


def preprocessing(images: StoreSet, size: int) -> dict[str, Any]:
    """How the training pixels were made: the store's recipe and resolution (applied again at prediction)."""
    fingerprint = json.loads((images.path / "fingerprint.json").read_text())
    return {"recipe": fingerprint["recipe"], "store_size": int(size)}


def cell_config(settings: TrainingSettings, *, block: str, init: Any, images: StoreSet, labels: pd.DataFrame,
                splits: pd.DataFrame, findings: list[str], out_dir: Path) -> CellConfig:
    """The typed configuration of one cell: the ``block``'s training settings (``finetuning`` or
    ``pretraining``), this cell's data and init."""
    predict = [s for s in ("val", "test") if (splits["split"] == s).any()]
    from cxrinit.training.cell import CellConfig

    return CellConfig(init=init, inits=settings.registry, store=images.path / str(store_size(settings, images)),
                      labels=labels, splits=splits, findings=findings, img_size=settings.img_size,
                      normalization=settings.normalization, preset=settings.preset, train=settings.train,
                      out_dir=out_dir, device=settings.device, predict=predict, registry_key=f"{block}.registry")


__all__ = ["EMPTY_PREDICTIONS", "cell_config", "preprocessing", "skipped", "store_size"]
