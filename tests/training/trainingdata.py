"""Tiny synthetic pixel stores for the training tests: each finding brightens its own patch of the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrinit.training.data import ArrayStore

FINDINGS = ["cardiomegaly", "effusion", "pneumothorax"]


def make_dataset(root: Path, n: int = 96, size: int = 32, seed: int = 0, n_findings: int = 3,
                 nan_fraction: float = 0.1) -> tuple[ArrayStore, pd.DataFrame, pd.DataFrame]:
    """Write ``images.npy`` + ``index.parquet`` + ``labels.parquet`` + ``splits.parquet`` under ``root``."""
    rng = np.random.default_rng(seed)
    findings = FINDINGS[:n_findings]
    labels = (rng.random((n, n_findings)) < 0.4).astype(np.float32)
    images = rng.integers(0, 90, size=(n, size, size), dtype=np.uint8)
    step = size // (n_findings + 1)
    for j in range(n_findings):
        patch = images[:, step * j:step * (j + 1) + 4, 4:size - 4]
        patch += (labels[:, j] * 120).astype(np.uint8)[:, None, None]
    labels[rng.random(labels.shape) < nan_fraction] = np.nan
    ids = np.array([f"img{i:04d}" for i in range(n)], dtype=object)
    root.mkdir(parents=True, exist_ok=True)
    mm = np.lib.format.open_memmap(root / "images.npy", mode="w+", dtype=np.uint8, shape=images.shape)
    mm[:] = images
    mm.flush()
    del mm
    index = pd.DataFrame({"image_id": ids, "row": np.arange(n), "status": "ok"})
    index.to_parquet(root / "index.parquet")
    label_df = pd.DataFrame(labels, columns=findings)
    label_df.insert(0, "image_id", ids)
    label_df.to_parquet(root / "labels.parquet")
    split = np.where(np.arange(n) % 4 == 0, "val", np.where(np.arange(n) % 4 == 1, "test", "train"))
    splits = pd.DataFrame({"image_id": ids, "patient_id": [f"p{i // 2}" for i in range(n)], "split": split})
    splits.to_parquet(root / "splits.parquet")
    return ArrayStore.from_dir(root), label_df, splits


TINY_INIT = {"name": "tiny", "arch": "vit_tiny_patch16_224", "weights": "none",
             "model_kwargs": {"depth": 2, "embed_dim": 32, "num_heads": 2, "patch_size": 8}}
