"""The cell CLI, and a training process SIGKILLed after an epoch that resumes to the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from cxrinit.training.checkpoint import load_state
from cxrinit.training.cli import load_config, main, run_cell
from trainingdata import TINY_INIT

SRC = Path(__file__).resolve().parents[2] / "src"
KILLER = """
import os, signal, sys
from cxrinit.training.cli import load_config, run_cell
def die(epoch, metrics):
    if epoch == 1:
        os.kill(os.getpid(), signal.SIGKILL)
run_cell(load_config(sys.argv[1]), callbacks=[die])
"""


def cell(tmp_path: Path, out: str) -> dict:
    store = tmp_path / "store"
    return {"init": TINY_INIT, "store": str(store), "labels": str(store / "labels.parquet"),
            "splits": str(store / "splits.parquet"), "img_size": 32, "normalization": "paper", "preset": "default",
            "train": {"epochs": 3, "batch_size": 12, "lr": 2e-3, "deterministic": True}, "out_dir": str(tmp_path / out),
            "device": "cpu", "predict": ["val", "test"]}


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(dataset, tmp_path: Path) -> None:
    (tmp_path / "cell.yaml").write_text(yaml.safe_dump(cell(tmp_path, "whole")))
    assert main(["--config", str(tmp_path / "cell.yaml")]) == 0
    whole = load_state(tmp_path / "whole" / "checkpoints" / "last.pt")

    config = cell(tmp_path, "killed")
    (tmp_path / "killed.json").write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path / "killed.json")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert load_state(tmp_path / "killed" / "checkpoints" / "last.pt")["epoch"] == 1
    assert not (tmp_path / "killed" / "summary.json").exists()

    summary = run_cell(load_config(tmp_path / "killed.json"))
    assert summary["resumed_from"] == 1 and summary["epochs_run"] == 3
    resumed = load_state(tmp_path / "killed" / "checkpoints" / "last.pt")
    assert all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"])
    assert [h["train_loss"] for h in whole["history"]] == [h["train_loss"] for h in resumed["history"]]
    for split in ("val", "test"):
        a = pd.read_parquet(tmp_path / "whole" / f"predictions_{split}.parquet")
        b = pd.read_parquet(tmp_path / "killed" / f"predictions_{split}.parquet")
        pd.testing.assert_frame_equal(a, b)
        assert (a.split == split).all() and {"prob_cardiomegaly", "label_cardiomegaly"} <= set(a.columns)


def test_cell_config_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"init": "dinov2", "store": "s", "labels": "l", "splits": "p",
                                                       "out_dir": "o", "epochs": 3, "train": {"bach_size": 8},
                                                       "device": "gpu"}))
    with pytest.raises(ValueError) as err:
        load_config(tmp_path / "bad.yaml")
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'bad.yaml'}: invalid cell configuration")
    assert "`epochs`: unknown key" in message and "init, inits, store, labels, splits" in message
    assert "`train.bach_size`: unknown key (did you mean `batch_size`?)" in message
    assert "`device`: device 'gpu': use auto, cpu, cuda, cuda:<index> or mps" in message
    (tmp_path / "short.json").write_text(json.dumps({"init": "dinov2"}))
    with pytest.raises(ValueError) as err:
        load_config(tmp_path / "short.json")
    assert all(f"`{key}`: Field required" in str(err.value) for key in ("store", "labels", "splits", "out_dir"))
    config = load_config(tmp_path / "short.json", store="s", labels="l.parquet", splits="p.csv", out_dir="o")
    assert config.store == Path("s") and config.labels == Path("l.parquet") and config.resume
