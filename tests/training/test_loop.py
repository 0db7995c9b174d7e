"""The training loop: determinism, resume after a crash, checkpoints, model selection, early stopping."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from cxrinit.models import build_model
from cxrinit.training import TrainConfig, assemble_split, fit
from cxrinit.training.checkpoint import load_state
from cxrinit.training.loop import Selection
from trainingdata import TINY_INIT

CFG = TrainConfig.preset("default", epochs=3, batch_size=12, lr=2e-3, deterministic=True, precision="fp32",
                         augment={"scale": 0.05, "brightness": 0.05})


def splits_of(dataset):
    store, labels, splits = dataset
    return store, assemble_split(store, labels, splits, "train"), assemble_split(store, labels, splits, "val")


def train(dataset, out: Path, cfg: TrainConfig = CFG, **kwargs):
    store, tr, va = splits_of(dataset)
    model, contract = build_model(TINY_INIT, 3, 32, labels=tr.findings, seed=cfg.seed)
    return model, fit(model, contract, store, tr, va, cfg, out, device="cpu", **kwargs)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Crash(RuntimeError):
    pass


def test_deterministic_cpu_runs_are_bit_identical_and_resume_exactly(dataset, tmp_path: Path) -> None:
    model_a, a = train(dataset, tmp_path / "a")
    model_b, b = train(dataset, tmp_path / "b")
    last_a, last_b = load_state(a.checkpoint), load_state(b.checkpoint)
    assert states_equal(last_a["model"], last_b["model"]) and states_equal(model_a.state_dict(), model_b.state_dict())
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]

    # crash in the middle of epoch 2 (after the epoch-1 checkpoint), then restart from scratch with resume
    store, tr, va = splits_of(dataset)
    model, contract = build_model(TINY_INIT, 3, 32, labels=tr.findings, seed=CFG.seed)
    calls = {"n": 0}

    def bomb(module, args):
        calls["n"] += module.training
        if calls["n"] == len(tr) // CFG.batch_size + 3:
            raise Crash("power cut")

    handle = model.register_forward_pre_hook(bomb)
    with pytest.raises(Crash):
        fit(model, contract, store, tr, va, CFG, tmp_path / "c", device="cpu")
    handle.remove()
    assert load_state(tmp_path / "c" / "last.pt")["epoch"] == 1
    model_c, c = train(dataset, tmp_path / "c")
    assert c.resumed_from == 1 and c.epochs_run == 3
    assert states_equal(load_state(c.checkpoint)["model"], last_a["model"])
    assert states_equal(model_c.state_dict(), model_a.state_dict())  # the restored best weights too
    assert [h["train_loss"] for h in c.history] == [h["train_loss"] for h in a.history]
    assert torch.get_num_threads() == 1  # the conftest's setting is back after deterministic mode


def test_checkpoint_contents_selection_and_callbacks(dataset, tmp_path: Path) -> None:
    seen: list[tuple[int, dict]] = []

    class Recorder:
        def on_epoch_end(self, epoch: int, metrics: dict) -> None:
            seen.append((epoch, metrics))

    model, result = train(dataset, tmp_path, callbacks=[Recorder(), lambda e, m: seen.append((-e, m))])
    assert [e for e, _ in seen] == [1, -1, 2, -2, 3, -3]
    metrics = seen[0][1]
    for key in ("train_loss", "val_loss", "val_auroc_mean", "val_auroc_effusion", "lr", "images_per_s",
                "peak_mem_mb", "epoch_s"):
        assert np.isfinite(metrics[key]), key
    assert metrics["images_per_s"] > 0 and metrics["peak_mem_mb"] > 10
    state = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "scheduler", "scaler", "sampler", "rng", "epoch", "best", "history",
            "config"} <= set(state)
    assert {"python", "numpy", "torch"} <= set(state["rng"]) and len(state["history"]) == 3
    scores = [h["val_auroc_mean"] for h in result.history]
    assert result.best_epoch == int(np.argmax(scores)) + 1
    assert result.selection.metric == "val_auroc_mean" and result.selection.value == max(scores)
    assert result.history[-1]["best_val_auroc_mean"] == max(scores)
    with safe_open(str(result.best_weights), "pt") as f:
        meta = f.metadata()
        assert json.loads(meta["labels"]) == ["cardiomegaly", "effusion", "pneumothorax"]
        assert int(meta["epoch"]) == result.best_epoch
        assert json.loads(meta["selection"]) == {"metric": "val_auroc_mean", "value": max(scores)}
        assert all(torch.equal(f.get_tensor(k), v) for k, v in model.state_dict().items())
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries

    # the best weights are a valid initialization: the head is kept for the same labels (the mimic arm)
    again, _ = build_model({**TINY_INIT, "name": "mimic", "weights": "file", "file": str(result.best_weights)}, 3, 32,
                           labels=["cardiomegaly", "effusion", "pneumothorax"])
    assert states_equal(again.state_dict(), model.state_dict())


def test_early_stopping_and_refusing_to_resume_a_different_run(dataset, tmp_path: Path) -> None:
    flat = TrainConfig.preset("paper", epochs=6, batch_size=12, lr=1e-9, patience=1, deterministic=True,
                              augment={"flip_p": 0.0, "rotate_deg": 0.0})
    _, result = train(dataset, tmp_path / "flat", flat)
    assert result.stopped_early and result.epochs_run < 6
    _, done = train(dataset, tmp_path / "flat", flat)  # resuming a finished run trains nothing more
    assert done.epochs_run == result.epochs_run and done.resumed_from == result.epochs_run
    with pytest.raises(ValueError, match=r"different run \(changed: \['lr'\]\)"):
        train(dataset, tmp_path / "flat", TrainConfig.preset("paper", **{**flat.to_dict(), "lr": 1e-3}))
    with pytest.raises(ValueError, match="not divisible"):
        train(dataset, tmp_path / "x", TrainConfig.preset("paper", batch_size=10, grad_accum=3))


def test_gradient_accumulation_matches_the_full_batch(dataset, tmp_path: Path) -> None:
    base = dict(epochs=1, batch_size=12, lr=1e-3, deterministic=True, augment={"flip_p": 0.0, "rotate_deg": 0.0})
    whole, _ = train(dataset, tmp_path / "whole", TrainConfig.preset("paper", **base))
    parts, _ = train(dataset, tmp_path / "parts", TrainConfig.preset("paper", grad_accum=3, **base))
    for (k, a), b in zip(whole.state_dict().items(), parts.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), k  # equal up to float summation order


def test_selection_says_which_metric_chose_the_epoch(dataset, tmp_path: Path) -> None:
    store, tr, va = splits_of(dataset)
    cfg = TrainConfig.preset("paper", epochs=3, batch_size=12, lr=1e-3, deterministic=True)
    # No validation split (the study's preset): the last epoch is kept and there is no score — never the epoch count.
    model, contract = build_model(TINY_INIT, 3, 32, labels=tr.findings, seed=0)
    result = fit(model, contract, store, tr, None, cfg, tmp_path / "noval", device="cpu")
    assert result.selection == Selection("last_epoch", None, 3) and result.best_epoch == 3
    assert not any(k.startswith("best_val") for k in result.history[-1])
    # A validation split where no finding has both classes: the loss selects (lower is better).
    one_class = replace(va, labels=np.zeros_like(va.labels))
    model, contract = build_model(TINY_INIT, 3, 32, labels=tr.findings, seed=0)
    result = fit(model, contract, store, tr, one_class, cfg, tmp_path / "loss", device="cpu")
    losses = [h["val_loss"] for h in result.history]
    assert result.selection.metric == "val_loss" and result.selection.value == min(losses)
    assert result.best_epoch == int(np.argmin(losses)) + 1
