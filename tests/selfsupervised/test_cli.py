"""The self-supervised command line: DDP under torchrun on CPU (gloo), the file's errors by key."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cxrinit.selfsupervised.cli import load_config
from tests.selfsupervised.test_pretrain import TINY, store


def pixel_store(folder: Path) -> Path:
    """A pixel-store resolution folder with its index (what ingestion writes), 128 usable images."""
    path = store(folder)
    n = len(np.load(path / "images.npy", mmap_mode="r"))
    pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "row": np.arange(n), "status": "ok"}).to_parquet(
        path / "index.parquet")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_under_torchrun_pretrain_one_backbone(tmp_path: Path) -> None:
    path = pixel_store(tmp_path / "store")
    splits = pd.DataFrame({"image_id": [f"i{k}" for k in range(128)], "patient_id": [f"p{k // 2}" for k in range(128)],
                           "split": ["train"] * 96 + ["test"] * 32})
    splits.to_parquet(tmp_path / "splits.parquet")
    config = {"init": TINY, "stores": [{"name": "toy", "store": str(path), "splits": str(tmp_path / "splits.parquet")}],
              "img_size": 32, "out_dir": str(tmp_path / "out"), "device": "cpu",
              "dino": {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16},
              "crops": {"local_size": 16, "n_local": 2}, "train": {"epochs": 2, "batch_size": 16, "workers": 0, "warmup_epochs": 0.5}}
    (tmp_path / "ssl.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(free_port()), "-m", "cxrinit.selfsupervised.cli",
                           "--config", str(tmp_path / "ssl.yaml")], capture_output=True, text=True, timeout=600,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs_run"] == 2 and summary["images"] == {"toy": 96}
    assert (tmp_path / "out" / "checkpoints" / "backbone.safetensors").is_file()
    assert "[rank 1] INFO" not in done.stderr  # only rank 0 logs progress


def test_a_bad_key_in_the_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "ssl.yaml").write_text(yaml.safe_dump({"stores": [{"name": "a", "store": "x"}], "out_dir": "o",
                                                       "train": {"epoch": 3}}))
    with pytest.raises(ValueError, match=r"ssl.yaml: invalid self-supervised configuration:\n.*train.epoch.*epochs"):
        load_config(tmp_path / "ssl.yaml")
