"""The model registry: what a version's tags say about its selection, and which version holds ``best``."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from cxrinit import tracking
from cxrinit.tracking import takes_alias
from cxrinit.training.cell import CellConfig
from tests.conftest import REPO
from tests.training.trainingdata import TINY_INIT, make_dataset

NAME = "cxrinit-test-selection"


def _tags(metric: str, value: float | None = None) -> dict[str, str]:
    tags = {"selection_metric": metric, "selection_value": "" if value is None else str(value)}
    if metric == "val_auroc_mean":
        tags["val_auroc_mean"] = str(value)
    return tags


@pytest.mark.parametrize("new, holder, takes", [
    (_tags("val_auroc_mean", 0.6), None, True),
    (_tags("last_epoch"), None, True),
    (_tags("val_auroc_mean", 0.6), _tags("last_epoch"), True),            # a real AUROC beats none
    (_tags("last_epoch"), _tags("val_auroc_mean", 0.6), False),           # ...and is never lost to none
    (_tags("val_auroc_mean", 0.6), _tags("val_auroc_mean", 0.7), False),
    (_tags("val_auroc_mean", 0.8), _tags("val_auroc_mean", 0.7), True),
    (_tags("val_loss", 0.3), _tags("val_auroc_mean", 0.7), False),        # a loss is not an AUROC
    (_tags("last_epoch"), _tags("val_loss", 0.3), True),                  # neither has one: the newest
    # a version registered before selection tags existed, whose "AUROC" was an epoch count
    (_tags("val_auroc_mean", 0.6), {"val_auroc_mean": "3.000000"}, True),
])
def test_who_takes_the_alias(new: dict, holder: dict | None, takes: bool) -> None:
    assert takes_alias(new, holder) is takes


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tracking.TrackingConfig:
    shutil.copy(REPO / "mlflow.yaml", tmp_path / "mlflow.yaml")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = tracking.load_config(tmp_path)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.create_experiment("registry-test", artifact_location=(tmp_path / "mlartifacts").as_uri())
    mlflow.set_experiment("registry-test")
    return config


def _cell(tmp_path: Path, name: str, *, with_val: bool) -> CellConfig:
    store = tmp_path / "store"
    if not store.exists():
        make_dataset(store, n=48, size=32)
    import pandas as pd

    splits = pd.read_parquet(store / "splits.parquet")
    if not with_val:  # the study's preset: no validation split
        splits = splits.assign(split=splits["split"].replace({"val": "train"}))
    return CellConfig(init=TINY_INIT, store=store, labels=store / "labels.parquet", splits=splits, img_size=32,
                      normalization="paper", train={"epochs": 3, "batch_size": 12, "lr": 2e-3, "deterministic": True},
                      out_dir=tmp_path / name, device="cpu", predict=["test"])


def test_a_cell_without_validation_never_registers_an_epoch_count_as_auroc(tmp_path: Path, config) -> None:
    torch.set_num_threads(1)
    common = {"stage": "finetuning", "init": "tiny", "source": "test", "model_name": NAME, "lineage": {"init": "tiny"},
              "preprocessing": {"store_size": 32}}
    card, _ = tracking.track_cell(config, _cell(tmp_path, "noval", with_val=False), **common)
    assert card["selection"] == {"metric": "last_epoch", "value": None, "epoch": 3}
    client = MlflowClient()
    first = client.get_model_version(NAME, card["registry"]["version"])
    assert "val_auroc_mean" not in first.tags and first.tags["selection_metric"] == "last_epoch"
    assert str(client.get_model_version_by_alias(NAME, "best").version) == str(first.version)
    # a later cell with a validation split (a real AUROC) takes the alias
    card, _ = tracking.track_cell(config, _cell(tmp_path, "val", with_val=True), **common)
    assert card["selection"]["metric"] == "val_auroc_mean" and 0 <= card["selection"]["value"] <= 1
    assert str(client.get_model_version_by_alias(NAME, "best").version) == card["registry"]["version"]


def test_an_unreadable_registry_is_an_error_not_no_alias_yet(tmp_path: Path, config,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    args = {"name": NAME, "contract": {"size": 8, "channels": 3}, "findings": ["a", "b"], "lineage": {"init": "x"}}
    with mlflow.start_run():
        first = tracking.register_model(config, model, selection={"metric": "val_auroc_mean", "value": 0.9}, **args)

    def unavailable(*a, **k):
        raise MlflowException("the registry is temporarily unavailable")

    monkeypatch.setattr(MlflowClient, "get_registered_model", unavailable)
    monkeypatch.setattr(MlflowClient, "get_model_version_by_alias", unavailable)
    with mlflow.start_run(), pytest.raises(MlflowException, match="temporarily unavailable"):
        tracking.register_model(config, model, selection={"metric": "val_auroc_mean", "value": 0.1}, **args)
    monkeypatch.undo()
    assert str(MlflowClient().get_model_version_by_alias(NAME, "best").version) == first["version"]


def test_a_dinov3_cell_trains_registers_and_reloads(tmp_path: Path, config) -> None:
    """The DINOv3 family (registers, rotary positions) through training, export (pt2) and the registry."""
    torch.set_num_threads(1)
    cell = _cell(tmp_path, "dinov3", with_val=True).model_copy(update={
        "init": {"name": "dinov3", "arch": "vit_small_patch16_dinov3", "weights": "none",
                 "model_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2}},
        "train": {"epochs": 1, "batch_size": 12, "lr": 2e-3, "deterministic": True}})
    card, tables = tracking.track_cell(config, cell, stage="finetuning", init="dinov3", source="test",
                                       model_name="cxrinit-test-dinov3", lineage={"init": "dinov3"},
                                       preprocessing={"store_size": 32})
    assert card["arch"] == "vit_small_patch16_dinov3" and len(tables["test"])
    model = mlflow.pytorch.load_model("models:/cxrinit-test-dinov3@best")
    x = torch.rand(3, 3, 32, 32)
    assert model(x).shape == (3, len(card["findings"]))
