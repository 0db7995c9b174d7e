"""Batches straight from the memory-mapped store: uint8 gathered in sorted-row order by a background thread,
then moved to the device and turned into model input there (float, resize, augment, 3 channels, normalize)."""

from __future__ import annotations

import logging
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

from .augment import AugmentConfig, augment

log = logging.getLogger(__name__)


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


def to_model_input(pixels: Tensor, contract: InputContract, device: torch.device | str,
                   augmentation: AugmentConfig | None = None, generator: torch.Generator | None = None,
                   non_blocking: bool = True) -> Tensor:
    """uint8 (B, H, W) -> float (B, C, S, S) on ``device``: [0, 1], resized to the contract's size, augmented
    (when ``augmentation`` is given), gray repeated to the contract's channels, then normalized."""
    x = pixels.to(device, non_blocking=non_blocking).unsqueeze(1).float().div_(255.0)
    size = contract.size
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    if augmentation is not None:
        if generator is None:
            raise ValueError("augmentation needs a seeded torch.Generator")
        x = augment(x, augmentation, generator)
    if contract.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    if not contract.is_identity:
        mean = torch.tensor(contract.mean, device=x.device, dtype=x.dtype)[None, :, None, None]
        std = torch.tensor(contract.std, device=x.device, dtype=x.dtype)[None, :, None, None]
        x = (x - mean) / std
    return x.contiguous()
