"""Unlabeled images for self-supervised pretraining: rows of one or more pixel stores, as multi-crop views."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxrinit.models.contract import InputContract

from .config import CropOptions


@dataclass(frozen=True)
class StoreRows:
    """The images of one part of the pretraining data: ``rows`` of the pixel store resolution folder
    ``path`` (``images.npy``); ``name`` says where they come from (a source, a folder) in logs and cards."""

    name: str
    path: Path
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def store_rows(name: str, store: Any, splits: Any = None) -> tuple[StoreRows, dict[str, int]]:
    """The usable rows of a pixel store (``store``: a :class:`~cxrinit.imaging.PixelStore` of one resolution)
    for pretraining, and what was left out by reason.

    With ``splits`` (image_id, patient_id, split) only the *training* split is used; a training patient
    who is also a validation or test patient raises ``LeakageError``. Without, every image whose store
    status is ok (an archive of unlabeled images).
    """
    from collections import Counter

    from cxrinit.labels import check_pretraining_leakage
    from cxrinit.training.data import OK, resolve_rows

    if splits is None:
        index = store.index
        ok = index["status"].astype(str) == OK if "status" in index.columns else np.ones(len(index), bool)
        dropped = {f"store status {k}": int(v) for k, v in index.loc[~ok, "status"].astype(str).value_counts().items()}
        return StoreRows(name, Path(store.path), np.sort(index.loc[ok, "row"].to_numpy(np.int64))), dropped
    train = splits[splits["split"].astype(str) == "train"]
    check_pretraining_leakage(train, splits, source=name)
    rows, reason = resolve_rows(store, train["image_id"].astype(str).to_numpy(dtype=object))
    dropped = {"not in the training split (val/test)": int(len(splits) - len(train)),
               **{str(k): int(v) for k, v in Counter(reason[reason != ""].tolist()).items()}}
    return StoreRows(name, Path(store.path), np.sort(rows[reason == ""])), {k: v for k, v in dropped.items() if v}


def multi_crop(crops: CropOptions, img_size: int, contract: InputContract) -> Any:
    """lightly's ``DINOTransform`` for gray radiographs: a PIL image -> [global, global, local x n] tensors.

    Colour jitter keeps only brightness and contrast (no saturation, hue or random grayscale: the
    images are gray copied to RGB); the views are normalized with the initialization's ``contract``.
    """
    from lightly.transforms import DINOTransform

    return DINOTransform(
        global_crop_size=img_size, global_crop_scale=tuple(crops.global_scale), local_crop_size=crops.local_size,
        local_crop_scale=tuple(crops.local_scale), n_local_views=crops.n_local, hf_prob=crops.hflip, vf_prob=0.0,
        rr_prob=1.0 if crops.rotation_degrees > 0 else 0.0,
        rr_degrees=crops.rotation_degrees if crops.rotation_degrees > 0 else None,
        cj_prob=crops.jitter_prob, cj_strength=1.0, cj_bright=crops.brightness, cj_contrast=crops.contrast,
        cj_sat=0.0, cj_hue=0.0, random_gray_scale=0.0, gaussian_blur=tuple(crops.blur),
        solarization_prob=crops.solarization,
        normalize=None if contract.is_identity else {"mean": list(contract.mean), "std": list(contract.std)})


class UnlabeledImages(torch.utils.data.Dataset):
    """Item ``i``: the multi-crop views of the ``i``-th image over ``parts`` in order.

    Stores are memory-mapped lazily in each process (a data-loader worker opens its own maps; nothing
    but paths and rows is pickled to it).
    """

    def __init__(self, parts: Sequence[StoreRows], transform: Any) -> None:
        self.parts, self.transform = list(parts), transform
        self.offsets = np.cumsum([0, *(len(p) for p in self.parts)])
        self._maps: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_maps": {}}

    def pixels(self, i: int) -> np.ndarray:
        """The stored uint8 (H, W) square of item ``i``."""
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        if k not in self._maps:
            self._maps[k] = np.load(self.parts[k].path / "images.npy", mmap_mode="r")
        return np.asarray(self._maps[k][self.parts[k].rows[i - self.offsets[k]]])

    def __getitem__(self, i: int) -> list[torch.Tensor]:
        from PIL import Image

        return self.transform(Image.fromarray(self.pixels(i), mode="L").convert("RGB"))


def seed_worker(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a data-loader worker from its torch seed: lightly's blur and
    solarization draw from NumPy, so without this two workers (or two epochs) would repeat draws."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


__all__ = ["StoreRows", "UnlabeledImages", "multi_crop", "seed_worker", "store_rows"]
