"""Run one fine-tuning cell (one initialization x one source) from a YAML/JSON file, outside Kedro.

    python -m cxrinit.training.cli --config cell.yaml
    torchrun --nproc-per-node 8 -m cxrinit.training.cli --config cell.yaml      # DDP, one process per GPU

The file::

    init: dinov2                    # a registry name, or a dict (name, arch, weights, file, head, ...)
    inits: {}                       # extra registry entries, e.g. {dinov2: {file: /weights/dinov2_vitb14_pretrain.pth}}
    store: data/05_model_input/vindr_224       # pixel store directory
    labels: data/05_model_input/vindr.labels.parquet   # image_id x findings, 1 / 0 / NaN
    splits: data/05_model_input/vindr.splits.parquet   # image_id, patient_id, split
    findings: null                  # a subset / order of label columns; null = all
    img_size: 224
    normalization: init             # or paper
    preset: default                 # or paper
    train: {epochs: 100, batch_size: 32}       # any TrainConfig field
    out_dir: data/06_models/vindr/dinov2
    device: auto                    # auto / cpu / cuda
    predict: [val, test]            # prediction tables written after training (best weights)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from cxrinit.models import InputContract, build_model, describe, init_spec

from .config import TrainConfig
from .data import assemble_split, open_store
from .distributed import DistContext, cleanup, init_distributed
from .loop import Callback, fit
from .predict import predict_rows, prediction_table

log = logging.getLogger(__name__)

_KEYS = {"init", "inits", "store", "labels", "splits", "findings", "img_size", "normalization", "preset", "train",
         "out_dir", "device", "predict", "resume"}
_REQUIRED = ("init", "store", "labels", "splits", "out_dir")


def load_config(path: str | Path) -> dict[str, Any]:
    """A cell configuration from YAML or JSON, checked for unknown and missing keys."""
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".json":
        config = json.loads(text)
    else:
        import yaml

        config = yaml.safe_load(text)
    if not isinstance(config, Mapping):
        raise ValueError(f"{path}: expected a mapping of options, got {type(config).__name__}")
    return check_config(dict(config), str(path))


def check_config(config: dict[str, Any], origin: str = "cell config") -> dict[str, Any]:
    if unknown := sorted(set(config) - _KEYS):
        raise ValueError(f"{origin}: unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
    if missing := [k for k in _REQUIRED if config.get(k) is None or (isinstance(config[k], str) and not config[k])]:
        raise ValueError(f"{origin}: missing {missing}")
    return config


def _table(path: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(path, pd.DataFrame):
        return path
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"table {path} does not exist")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _spec_dict(spec: Any) -> dict[str, Any]:
    """The init as plain data (JSON-comparable): a different init, weights file or arch is another run."""
    return json.loads(json.dumps({f: getattr(spec, f) for f in ("name", "arch", "weights", "file", "head",
                                                                 "mean", "std", "model_kwargs")}, default=str))


@dataclass
class CellRun:
    """A trained cell: its summary, prediction tables (rank 0) and the model holding the best weights."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    model: torch.nn.Module
    contract: InputContract


def train_cell(config: dict[str, Any], *, callbacks: Iterable[Callback] = (),
               ctx: DistContext | None = None) -> CellRun:
    """Train one cell; returns its summary, the prediction tables of ``config["predict"]`` and the model.

    ``labels`` and ``splits`` may be paths or DataFrames. Checkpoints and best weights go under ``out_dir``.
    Raises ``WeightsUnavailable`` when the init's weights are not here.
    """
    config = check_config(dict(config))
    ctx = ctx or init_distributed(config.get("device"))
    out = Path(config["out_dir"])
    store = open_store(config["store"])
    labels, splits = _table(config["labels"]), _table(config["splits"])
    findings = config.get("findings")
    train = assemble_split(store, labels, splits, "train", findings)
    val = assemble_split(store, labels, splits, "val", train.findings) if (splits["split"] == "val").any() else None
    cfg = TrainConfig.preset(config.get("preset", "default"), **dict(config.get("train") or {}))
    spec = init_spec(config["init"], config.get("inits"))
    model, contract = build_model(spec, len(train.findings), int(config.get("img_size", 224)),
                                  labels=train.findings, normalization=config.get("normalization", "init"),
                                  seed=cfg.seed)
    if ctx.is_main:
        log.info("init %s (%s): %s", spec.name, spec.arch, describe(model))
    result = fit(model, contract, store, train, val, cfg, out / "checkpoints", callbacks=callbacks, ctx=ctx,
                 resume=bool(config.get("resume", True)),
                 metadata={"init": spec.name, "arch": spec.arch, "train_config": cfg.to_dict(),
                           "cell": {"init": _spec_dict(spec), "store": str(Path(store.path).resolve())
                                    if hasattr(store, "path") else str(config["store"]),
                                    "img_size": int(config.get("img_size", 224))}})
    tables: dict[str, pd.DataFrame] = {}
    for name in config.get("predict") or []:
        split = assemble_split(store, labels, splits, name, train.findings)
        probs = predict_rows(model, store.images, split.rows, contract, cfg.eval_batch_size, ctx.device,
                             cfg.precision, ctx, desc=f"predict {name}")
        if ctx.is_main:
            tables[name] = prediction_table(split, probs)
    summary = {
        "init": spec.name, "arch": spec.arch, "model_kwargs": dict(spec.model_kwargs),
        "findings": list(train.findings), "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch, "best_score": result.best_score, "stopped_early": result.stopped_early,
        "resumed_from": result.resumed_from, "checkpoint": str(result.checkpoint),
        "best_weights": str(result.best_weights) if result.best_weights else None, "dropped": result.dropped,
        "contract": contract.to_dict(), "train_config": cfg.to_dict(), "world_size": ctx.world_size,
        "history": result.history,
    }
    return CellRun(summary, tables, model, contract)


def run_cell(config: dict[str, Any], *, callbacks: Iterable[Callback] = (), ctx: DistContext | None = None) -> dict:
    """Train one cell and write its checkpoint, best weights, history and prediction tables under ``out_dir``.

    Returns a summary (best epoch/score, paths, dropped counts). Raises ``WeightsUnavailable`` when the init's
    weights are not here.
    """
    ctx = ctx or init_distributed(config.get("device"))
    cell = train_cell(config, callbacks=callbacks, ctx=ctx)
    summary, tables = cell.summary, cell.tables
    if ctx.is_main:
        out = Path(config["out_dir"])
        summary["predictions"] = {}
        for name, table in tables.items():
            summary["predictions"][name] = str(out / f"predictions_{name}.parquet")
            table.to_parquet(out / f"predictions_{name}.parquet")
        (out / "history.json").write_text(json.dumps(summary.pop("history"), indent=1))
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrinit.training.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML or JSON cell configuration")
    parser.add_argument("--out-dir", help="overrides out_dir of the configuration")
    parser.add_argument("--device", help="overrides device (auto / cpu / cuda)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    config.update({k: v for k, v in (("out_dir", args.out_dir), ("device", args.device)) if v})
    ctx = init_distributed(config.get("device"))
    logging.basicConfig(level=logging.INFO if ctx.is_main else logging.WARNING,
                        format=f"%(asctime)s [rank {ctx.rank}] %(levelname)s %(name)s: %(message)s")
    try:
        summary = run_cell(config, ctx=ctx)
    finally:
        cleanup()
    if ctx.is_main:
        print(json.dumps({k: summary[k] for k in ("init", "epochs_run", "best_epoch", "best_score", "checkpoint")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
