"""One rank of the 2-process DDP test (spawned; gloo on CPU)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd
import torch

from cxrinit.models import build_model
from cxrinit.training import TrainConfig, assemble_split, fit
from cxrinit.training.data import ArrayStore
from cxrinit.training.distributed import cleanup, init_distributed
from trainingdata import TINY_INIT


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    keep = Keep()
    for name in ("cxrinit.training.loop", "cxrinit.training.predict", "cxrinit.training.distributed"):
        logging.getLogger(name).addHandler(keep)
        logging.getLogger(name).setLevel(logging.INFO)
    out = Path(root)
    ctx = init_distributed("cpu")
    try:
        store = ArrayStore.from_dir(out / "store")
        labels = pd.read_parquet(out / "store" / "labels.parquet")
        splits = pd.read_parquet(out / "store" / "splits.parquet")
        train = assemble_split(store, labels, splits, "train")
        val = assemble_split(store, labels, splits, "val")
        # different seeds per rank: DDP must make them equal by broadcasting rank 0's weights
        model, contract = build_model(TINY_INIT, 3, 32, seed=rank)
        epochs: list[int] = []
        cfg = TrainConfig.preset("paper", epochs=2, batch_size=16, lr=2e-3)
        result = fit(model, contract, store, train, val, cfg, out / f"ckpt{rank}", ctx=ctx,
                     callbacks=[lambda e, m: epochs.append(e)])
        torch.save(model.state_dict(), out / f"final{rank}.pt")
        (out / f"report{rank}.json").write_text(json.dumps({
            "logs": keep.messages, "callbacks": epochs, "history": result.history, "world": ctx.world_size}))
    finally:
        cleanup()
