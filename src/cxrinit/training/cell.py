"""One training cell (one initialization x one source), as a library function: :func:`train_cell`.

A cell is configured by a typed :class:`CellConfig`; the command line (:mod:`cxrinit.training.cli`)
reads one from YAML/JSON, the Kedro nodes build one from their settings, and MLflow logging wraps it
from outside (:mod:`cxrinit.tracking`). Nothing here imports Kedro or MLflow.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from pydantic import ConfigDict, Field, field_validator

from cxrinit.config.training import TrainOptions, check_device
from cxrinit.paths import portable
from cxrinit.models import InputContract, build_model, describe, init_spec

from .data import assemble_split, open_store
from .distributed import DistContext, init_distributed
from .loop import Callback, fit
from .predict import predict_rows, prediction_table

log = logging.getLogger(__name__)

Table = Path | pd.DataFrame


class CellConfig(TrainOptions):
    """Everything one cell needs; paths may be relative to the working directory.

    ``init``: a registry name or a dict of :class:`~cxrinit.models.InitSpec` fields; ``inits``: extra
    registry entries. ``store``: one resolution of a pixel store. ``labels``: image_id x findings
    (1 / 0 / NaN) and ``splits``: image_id, patient_id, split — a parquet/CSV path or a DataFrame.
    ``findings``: a subset / order of label columns (None: all). ``train``: any
    :class:`~cxrinit.training.TrainConfig` option over ``preset``. ``predict``: the splits whose
    prediction tables are made with the best weights. ``resume``: continue ``out_dir``'s checkpoint.
    ``registry_key``: where ``inits`` came from, named in the message of missing weights (``inits`` in a
    cell file; the pipelines set ``finetuning.registry`` / ``pretraining.registry``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    init: str | dict[str, Any]
    inits: dict[str, dict[str, Any]] = Field(default_factory=dict)
    store: Path
    labels: Table
    splits: Table
    findings: list[str] | None = None
    img_size: int = Field(default=224, ge=16, le=4096)
    normalization: Literal["init", "paper"] = "init"
    out_dir: Path
    device: str = "auto"
    predict: list[Literal["train", "val", "test"]] = Field(default_factory=list)
    resume: bool = True
    registry_key: str = "inits"

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)

    @field_validator("labels", "splits", mode="before")
    @classmethod
    def _table(cls, value: Any) -> Any:
        return Path(value) if isinstance(value, str) else value


def _table(value: Table) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if not value.is_file():
        raise FileNotFoundError(f"table {value} does not exist")
    return pd.read_parquet(value) if value.suffix == ".parquet" else pd.read_csv(value)


def _spec_dict(spec: Any) -> dict[str, Any]:
    """The init as plain data (JSON-comparable): a different init, weights file or arch is another run.
    A weights file inside the project is recorded relative to it (the project may move)."""
    fields = {f: getattr(spec, f) for f in ("name", "arch", "weights", "file", "head", "mean", "std", "model_kwargs")}
    if fields["file"]:
        fields["file"] = portable(fields["file"])
    return json.loads(json.dumps(fields, default=str))


def store_identity(store: Any, configured: Path) -> dict[str, Any]:
    """What the pixels are, not where they lie: the store's fingerprint (items, recipe) and resolution,
    so a moved or pulled store resumes its cells and a rebuilt one does not (PixelStore's
    ``fingerprint.json``); a store without one is known by its path relative to the project."""
    path = Path(getattr(store, "path", configured))
    fingerprint = path.parent / "fingerprint.json"
    if fingerprint.is_file():
        found = json.loads(fingerprint.read_text())
        return {"items_hash": found.get("items_hash"), "n_items": found.get("n_items"),
                "recipe": found.get("recipe"), "size": int(store.images.shape[1])}
    return {"path": portable(path)}


def cell_identity(config: CellConfig, **context: Any) -> str:
    """A hash of everything that decides what a cell trains: its settings (not where it writes, on which
    device, or whether it resumes), the content of its labels and splits, its store's fingerprint and
    ``context`` (e.g. the registered name). Equal hashes: training again would give the same cell."""
    import hashlib

    settings = config.model_dump(mode="json", exclude={"out_dir", "device", "resume", "labels", "splits", "store"})
    for entry in [settings["init"], *settings["inits"].values()] if isinstance(settings["init"], dict) else \
            settings["inits"].values():
        if isinstance(entry, dict) and entry.get("file"):
            entry["file"] = portable(entry["file"])
    tables = {}
    for name in ("labels", "splits"):
        frame = _table(getattr(config, name))
        tables[name] = str(int(pd.util.hash_pandas_object(frame.sort_index(axis=1), index=False).sum()))
    from cxrinit.imaging.store import content_identity

    fingerprint = Path(config.store).parent / "fingerprint.json"
    # what the pixels are: a store upgraded to a new store version (other source hashes) keeps its cells
    store = {"fingerprint": content_identity(json.loads(fingerprint.read_text())) if fingerprint.is_file()
             else portable(config.store), "size": Path(config.store).name}
    text = json.dumps({"settings": settings, "tables": tables, "store": store, "context": context}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class CellRun:
    """A trained cell: its summary, prediction tables (rank 0) and the model holding the best weights.

    ``summary["selection"]`` says how the best epoch was chosen: ``{"metric", "value", "epoch"}``
    (see :class:`~cxrinit.training.loop.Selection`).
    """

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    model: torch.nn.Module
    contract: InputContract


def train_cell(config: CellConfig, *, callbacks: Iterable[Callback] = (), ctx: DistContext | None = None) -> CellRun:
    """Train one cell; returns its summary, the prediction tables of ``config.predict`` and the model.

    Checkpoints and best weights go under ``config.out_dir / "checkpoints"``. Raises
    ``WeightsUnavailable`` when the init's weights are not on this machine.
    """
    ctx = ctx or init_distributed(config.device)
    store = open_store(config.store)
    labels, splits = _table(config.labels), _table(config.splits)
    train = assemble_split(store, labels, splits, "train", config.findings)
    val = assemble_split(store, labels, splits, "val", train.findings) if (splits["split"] == "val").any() else None
    cfg = config.train_config()
    spec = init_spec(config.init, config.inits)
    model, contract = build_model(spec, len(train.findings), config.img_size, labels=train.findings,
                                  normalization=config.normalization, seed=cfg.seed,
                                  registry_key="init" if isinstance(config.init, dict) else config.registry_key)
    if ctx.is_main:
        log.info("init %s (%s): %s", spec.name, spec.arch, describe(model))
    result = fit(model, contract, store, train, val, cfg, config.out_dir / "checkpoints", callbacks=callbacks,
                 ctx=ctx, resume=config.resume,
                 metadata={"init": spec.name, "arch": spec.arch, "train_config": cfg.to_dict(),
                           "cell": {"init": _spec_dict(spec), "store": store_identity(store, config.store),
                                    "img_size": config.img_size}})
    tables: dict[str, pd.DataFrame] = {}
    for name in config.predict:
        split = assemble_split(store, labels, splits, name, train.findings)
        probs = predict_rows(model, store.images, split.rows, contract, cfg.eval_batch_size, ctx.device,
                             cfg.precision, ctx, desc=f"predict {name}")
        if ctx.is_main:
            tables[name] = prediction_table(split, probs)
    summary = {
        "init": spec.name, "arch": spec.arch, "model_kwargs": dict(spec.model_kwargs),
        "findings": list(train.findings), "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
        "selection": result.selection.to_dict(), "stopped_early": result.stopped_early,
        "resumed_from": result.resumed_from, "checkpoint": portable(result.checkpoint),
        "best_weights": portable(result.best_weights) if result.best_weights else None, "dropped": result.dropped,
        "contract": contract.to_dict(), "train_config": cfg.to_dict(), "world_size": ctx.world_size,
        "history": result.history,
    }
    return CellRun(summary, tables, model, contract)


def run_cell(config: CellConfig, *, callbacks: Iterable[Callback] = (), ctx: DistContext | None = None) -> dict:
    """Train one cell and write its prediction tables, ``history.json`` and ``summary.json`` under ``out_dir``.

    Returns the summary (best epoch, selection, paths, dropped counts). Raises ``WeightsUnavailable``
    when the init's weights are not here.
    """
    ctx = ctx or init_distributed(config.device)
    cell = train_cell(config, callbacks=callbacks, ctx=ctx)
    summary, tables = cell.summary, cell.tables
    if ctx.is_main:
        out = config.out_dir
        out.mkdir(parents=True, exist_ok=True)
        summary["predictions"] = {}
        for name, table in tables.items():
            summary["predictions"][name] = portable(out / f"predictions_{name}.parquet")
            table.to_parquet(out / f"predictions_{name}.parquet")
        (out / "history.json").write_text(json.dumps(summary.pop("history"), indent=1))
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


__all__ = ["CellConfig", "CellRun", "cell_identity", "run_cell", "store_identity", "train_cell"]
