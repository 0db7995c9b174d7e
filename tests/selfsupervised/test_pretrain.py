"""DINO pretraining on tiny stores: the loss goes down, a resumed run equals an uninterrupted one, the
teacher backbone becomes a fine-tuning initialization, the k-NN probe matches a slow reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cxrinit.models import build_model
from cxrinit.selfsupervised import (CropOptions, DinoOptions, ProbeOptions, SSLCell, SSLTrainOptions, StoreRows,
                                    knn_scores, pretrain_cell)
from cxrinit.training.checkpoint import LAST
from cxrinit.training.distributed import DistContext

TINY = {"name": "tiny", "arch": "vit_tiny_patch16_224", "weights": "none",
        "model_kwargs": {"patch_size": 8, "depth": 2, "embed_dim": 32, "num_heads": 2}}
# small-data DINO that learns instead of collapsing: a slow centre and the KoLeo spreading term
DINO = DinoOptions(out_dim=256, hidden_dim=64, bottleneck_dim=32, warmup_teacher_temp_epochs=0, center_momentum=0.99,
                   koleo_weight=0.1)
CROPS = CropOptions(local_size=16, n_local=2, blur=(0.0, 0.0, 0.0), solarization=0.0)


def store(folder: Path, n: int = 128, size: int = 32, seed: int = 0) -> Path:
    """A pixel-store resolution folder of ``n`` images: a bright disc of random position and radius on noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((n, size, size), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(8, size - 8), rng.uniform(8, size - 8), rng.uniform(3, 8)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) * 150.0
        images[i] = np.clip(40 + disc + rng.normal(0, 20, (size, size)), 0, 255).astype(np.uint8)
    path = folder / str(size)
    path.mkdir(parents=True)
    np.save(path / "images.npy", images)
    return path


def cell(tmp_path: Path, epochs: int, out: str = "out", **train) -> SSLCell:
    path = tmp_path / "store" / "32"
    if not path.exists():
        store(tmp_path / "store")
    options = SSLTrainOptions(**{"epochs": epochs, "batch_size": 32, "lr": 5e-3, "warmup_epochs": 1 if epochs > 1 else 0.5, "workers": 0,
                                 "deterministic": True, "precision": "fp32", **train})
    return SSLCell(init=TINY, parts=(StoreRows("toy", path, np.arange(128)),), img_size=32, out_dir=tmp_path / out,
                   dino=DINO, crops=CROPS, train=options, device="cpu")


def test_loss_decreases_and_the_teacher_backbone_initializes_a_classifier(tmp_path: Path) -> None:
    run = pretrain_cell(cell(tmp_path, epochs=5), ctx=DistContext(device=torch.device("cpu")))
    losses = [h["ssl_loss"] for h in run.summary["history"]]
    assert len(losses) == 5 and losses[-1] < losses[0] - 0.2, losses
    weights = tmp_path / "out" / "checkpoints" / "backbone.safetensors"
    assert Path(run.summary["best_weights"]).resolve() == weights.resolve()
    # what the ssl arm does: the teacher backbone + a new 3-finding head, same embeddings as the teacher
    spec = {"name": "ssl", "arch": TINY["arch"], "model_kwargs": TINY["model_kwargs"], "file": str(weights)}
    model, contract = build_model(spec, 3, 32, labels=["a", "b", "c"], seed=0)
    assert contract.to_dict() == run.summary["contract"]
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.eval().forward_head(model.forward_features(x), pre_logits=True),
                              run.backbone.eval()(x), atol=1e-6)


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    cpu = DistContext(device=torch.device("cpu"))
    whole = pretrain_cell(cell(tmp_path, epochs=3, out="whole"), ctx=cpu)
    def interrupt(epoch: int, metrics: dict) -> None:
        if epoch == 1:
            raise KeyboardInterrupt  # killed after the first epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        pretrain_cell(cell(tmp_path, epochs=3, out="parts"), ctx=cpu, callbacks=[interrupt])
    resumed = pretrain_cell(cell(tmp_path, epochs=3, out="parts"), ctx=cpu)
    assert resumed.summary["resumed_from"] == 1
    assert [h["ssl_loss"] for h in resumed.summary["history"]] == [h["ssl_loss"] for h in whole.summary["history"]]
    a, b = whole.backbone.state_dict(), resumed.backbone.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a checkpoint of other settings is refused, naming what changed and the fix
    with pytest.raises(ValueError, match=r"changed: train.lr;.*delete"):
        pretrain_cell(cell(tmp_path, epochs=4, out="parts", lr=1e-3), ctx=cpu)
    # so are other views, other start weights and other images (the newcomer's finding: they were reused)
    parts = cell(tmp_path, epochs=4, out="parts")
    for change, named in (({"crops": CropOptions(local_size=16, n_local=3, blur=(0.0, 0.0, 0.0), solarization=0.0)},
                           "crops.n_local"), ({"init": {**TINY, "seed": 7}}, "init"),
                          ({"parts": (StoreRows("toy", parts.parts[0].path, np.arange(1, 128)),)}, "images")):
        with pytest.raises(ValueError, match=rf"changed: {named}[;,]"):
            pretrain_cell(SSLCell(**{**parts.__dict__, **change}), ctx=cpu)
    assert (tmp_path / "parts" / "checkpoints" / LAST).is_file()


def test_fewer_images_than_a_batch_is_a_clear_error(tmp_path: Path) -> None:
    small = cell(tmp_path, epochs=1)
    small = SSLCell(**{**small.__dict__, "parts": (StoreRows("toy", small.parts[0].path, np.arange(10)),)})
    with pytest.raises(ValueError, match="10 images .* fewer than one batch of 32.*selfsupervised.train.batch_size"):
        pretrain_cell(small, ctx=DistContext(device=torch.device("cpu")))


def test_knn_scores_match_a_slow_reference() -> None:
    rng = np.random.default_rng(3)
    bank = rng.normal(size=(30, 5)); bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    query = rng.normal(size=(7, 5)); query /= np.linalg.norm(query, axis=1, keepdims=True)
    labels = rng.integers(0, 2, (30, 3)).astype(float)
    labels[rng.random((30, 3)) < 0.3] = np.nan
    got = knn_scores(bank, labels, query, k=6, temperature=0.1)
    for m in range(7):
        sims = bank @ query[m]
        top = np.argsort(-sims)[:6]
        for c in range(3):
            votes = [(np.exp(sims[i] / 0.1), labels[i, c]) for i in top if not np.isnan(labels[i, c])]
            expected = sum(w * y for w, y in votes) / sum(w for w, _ in votes) if votes else np.nan
            np.testing.assert_allclose(got[m, c], expected, rtol=1e-10, equal_nan=True)


def test_probe_options_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="k"):
        ProbeOptions(k=0)
    with pytest.raises(ValueError, match=r"global_scale\n.*use 0 < min <= max <= 1"):
        CropOptions(global_scale=(0.8, 0.4))
    with pytest.raises(ValueError, match="10 warm-up epochs of 3: the learning rate would never reach its peak"):
        SSLTrainOptions(epochs=3)
