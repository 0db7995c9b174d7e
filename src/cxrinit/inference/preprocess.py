"""Files -> model input exactly as in training: the pixel store's decode + recipe, then the training input pipeline."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from cxrinit.imaging.process import ProcessedImage
from cxrinit.imaging.store import process_many
from cxrinit.imaging.transforms import Recipe
from cxrinit.models.contract import InputContract
from cxrinit.training.loader import InputPipeline


def decode_files(files: Sequence[Path], recipe: Recipe, store_size: int, workers: int = 1,
                 chunk_size: int = 8) -> Iterator[tuple[int, ProcessedImage]]:
    """(position in ``files``, outcome) for every file, in completion order; never raises for a bad file.

    Each file goes through :func:`cxrinit.imaging.process_image` (what ``build_store`` runs per image), so the
    uint8 ``store_size`` square is byte-identical to the training store's. ``workers`` > 1 decodes in the
    imaging package's crash-tolerant process pool (a decoder crash becomes that file's ``decode_error``).
    """
    if not files:
        return
    reals = [Path(os.path.realpath(f)) for f in files]
    # One root above every file: the imaging code reads paths relative to a root it checks them against.
    root = Path(os.path.commonpath([str(p.parent) for p in reals]))
    tasks = [(i, os.path.relpath(p, root)) for i, p in enumerate(reals)]
    yield from process_many(tasks, root, (int(store_size),), recipe, workers, chunk_size)


def to_model_input(pixels: np.ndarray | Tensor, contract: InputContract, device: torch.device | str = "cpu",
                   pipeline: InputPipeline | None = None) -> Tensor:
    """uint8 (B, H, W) store squares -> float32 (B, C, S, S) on ``device``: the training pipeline, no augmentation."""
    if isinstance(pixels, np.ndarray):
        pixels = torch.from_numpy(np.ascontiguousarray(pixels))
    if pixels.dtype != torch.uint8 or pixels.ndim != 3:
        raise ValueError(f"expected uint8 (B, H, W) store squares, got {pixels.dtype} {tuple(pixels.shape)}")
    pipeline = pipeline or InputPipeline(contract, device)
    return pipeline(pixels, non_blocking=False)
