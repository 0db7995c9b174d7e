"""Batches straight from the memory-mapped store: uint8 gathered in sorted-row order by a background thread,
then moved to the device and turned into model input there (float, resize, augment, 3 channels, normalize)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cxrinit.models.contract import InputContract

from .augment import AugmentConfig, adjust, affine_matrices, sample_params, warp


@dataclass
class Batch:
    """One batch in store-row order: ``positions`` index the split's arrays (labels, ids) for these images."""

    images: Tensor  # (B, H, W) uint8
    labels: Tensor | None  # (B, C) float32, NaN = masked
    positions: np.ndarray


def gather(images: Any, rows: np.ndarray) -> np.ndarray:
    """Copy ``images[rows]`` (rows sorted, so the memmap is read front to back)."""
    return np.ascontiguousarray(images[rows])


class BatchLoader:
    """Iterate batches of positions into (``rows``, ``labels``) as pinned uint8 tensors, ``prefetch`` ahead.

    ``batches`` yields arrays of positions (a sampler); within a batch images are read in ascending row order
    for locality, and ``Batch.positions`` says which position each image is.
    """

    def __init__(self, images: Any, rows: np.ndarray, labels: np.ndarray | None, batches: Iterable[np.ndarray],
                 prefetch: int = 2, pin_memory: bool = False) -> None:
        self.images, self.rows, self.labels = images, np.asarray(rows, dtype=np.int64), labels
        self.batches, self.prefetch, self.pin_memory = batches, max(1, prefetch), pin_memory

    def _make(self, positions: np.ndarray) -> Batch:
        positions = np.asarray(positions, dtype=np.int64)
        order = np.argsort(self.rows[positions], kind="stable")
        positions = positions[order]
        pixels = torch.from_numpy(gather(self.images, self.rows[positions]))
        labels = torch.from_numpy(np.ascontiguousarray(self.labels[positions])) if self.labels is not None else None
        if self.pin_memory:
            pixels = pixels.pin_memory()
            labels = labels.pin_memory() if labels is not None else None
        return Batch(pixels, labels, positions)

    def __iter__(self) -> Iterator[Batch]:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def work() -> None:
            try:
                for positions in self.batches:
                    if stop.is_set():
                        return
                    q.put(self._make(positions))
                q.put(done)
            except BaseException as err:  # noqa: BLE001 - handed to the consumer thread and re-raised there
                q.put(err)

        thread = threading.Thread(target=work, name="batch-gather", daemon=True)
        thread.start()
        try:
            while (item := q.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)


class InputPipeline:
    """uint8 (B, H, W) -> float (B, C, S, S) on the device: [0, 1], resized to the contract's size, augmented (when
    an ``AugmentConfig`` is given), gray repeated to the contract's channels, then the contract's normalization.

    Augmentation parameters are drawn on the CPU from the caller's generator; everything per pixel runs on the
    device as a handful of batched ops. ``compile=True`` fuses those into one kernel with ``torch.compile`` (much
    faster on CPU; nearest-neighbour rounding at exact half-pixels may differ from eager mode).
    """

    def __init__(self, contract: InputContract, device: torch.device | str,
                 augmentation: AugmentConfig | None = None, compile: bool = False) -> None:
        self.contract, self.device, self.augmentation = contract, torch.device(device), augmentation
        self._transform = torch.compile(_transform, dynamic=None) if compile else _transform

    def __call__(self, pixels: Tensor, generator: torch.Generator | None = None, non_blocking: bool = True) -> Tensor:
        c, aug = self.contract, self.augmentation
        theta = contrast = brightness = None
        if aug is not None and (aug.geometric or aug.photometric):
            if generator is None:
                raise ValueError("augmentation needs a seeded torch.Generator")
            params = sample_params(aug, pixels.shape[0], generator)
            if aug.geometric:
                theta = affine_matrices(params, c.size, c.size).to(self.device, non_blocking=non_blocking)
            if aug.photometric:
                contrast = params["contrast"].to(self.device, non_blocking=non_blocking)
                brightness = params["brightness"].to(self.device, non_blocking=non_blocking)
        pixels = pixels.to(self.device, non_blocking=non_blocking)
        interpolation = aug.interpolation if aug is not None else "bilinear"
        return self._transform(pixels, theta, contrast, brightness, c.size, c.channels, interpolation,
                               None if c.is_identity else (c.mean, c.std))


def _transform(pixels: Tensor, theta: Tensor | None, contrast: Tensor | None, brightness: Tensor | None, size: int,
               channels: int, interpolation: str, normalize: tuple[tuple[float, ...], tuple[float, ...]] | None
               ) -> Tensor:
    x = pixels.unsqueeze(1).float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    if theta is not None:
        x = warp(x, theta, interpolation)
    if contrast is not None and brightness is not None:
        x = adjust(x, contrast, brightness)
    if channels == 3:
        x = x.expand(-1, 3, -1, -1)
    if normalize is not None:
        mean = torch.tensor(normalize[0], device=x.device, dtype=x.dtype)[None, :, None, None]
        std = torch.tensor(normalize[1], device=x.device, dtype=x.dtype)[None, :, None, None]
        x = (x - mean) / std
    return x.contiguous()


def to_model_input(pixels: Tensor, contract: InputContract, device: torch.device | str,
                   augmentation: AugmentConfig | None = None, generator: torch.Generator | None = None) -> Tensor:
    """One-off ``InputPipeline(contract, device, augmentation)(pixels, generator)`` (eager)."""
    return InputPipeline(contract, device, augmentation)(pixels, generator)
