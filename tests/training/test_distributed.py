"""Two-process DDP on CPU (gloo): identical weights on both ranks, only rank 0 writes and logs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from ddp_worker import worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_on_cpu(dataset, tmp_path: Path) -> None:
    root = tmp_path / "store"  # the dataset fixture wrote the store here
    mp.spawn(worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"final{r}.pt", weights_only=True) for r in (0, 1))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    reports = [json.loads((tmp_path / f"report{r}.json").read_text()) for r in (0, 1)]
    assert reports[0]["world"] == reports[1]["world"] == 2
    assert reports[0]["callbacks"] == [1, 2] and reports[1]["callbacks"] == []
    assert any("epoch 2" in m for m in reports[0]["logs"]) and reports[1]["logs"] == []
    assert (tmp_path / "ckpt0" / "last.pt").is_file() and (tmp_path / "ckpt0" / "best.safetensors").is_file()
    assert not (tmp_path / "ckpt1").exists()
    # both ranks computed the same validation metrics from the gathered predictions
    assert [h["val_auroc_mean"] for h in reports[0]["history"]] == [h["val_auroc_mean"] for h in reports[1]["history"]]
    assert np.isfinite(reports[0]["history"][-1]["val_auroc_mean"]) and root.is_dir()
