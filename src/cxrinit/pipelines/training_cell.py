"""What the pretraining and finetuning nodes share: one training cell, tracked in MLflow, or skipped with a reason."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit import tracking
from cxrinit.datasets import StoreSet
from cxrinit.models import WeightsUnavailable
from cxrinit.training.cli import train_cell

log = logging.getLogger(__name__)

#: Predictions-contract columns of an empty (skipped) cell.
EMPTY_PREDICTIONS = pd.DataFrame({"image_id": pd.Series(dtype=str), "split": pd.Series(dtype=str),
                                  "patient_id": pd.Series(dtype=str)})


def preprocessing(images: StoreSet, store_size: int) -> dict[str, Any]:
    """How the training pixels were made: the store's recipe and resolution (applied again at prediction)."""
    fingerprint = json.loads((images.path / "fingerprint.json").read_text())
    return {"recipe": fingerprint["recipe"], "store_size": int(store_size)}


def skipped(stage: str, init: str, source: str, reason: str) -> dict[str, Any]:
    """The card of a cell that did not train, saying why (and how to make it train)."""
    log.warning("%s %s/%s skipped: %s", stage, init, source, reason)
    return {"stage": stage, "init": init, "source": source, "skipped": True, "reason": reason}


def run_tracked_cell(stage: str, *, init: str, source: str, images: StoreSet, labels: pd.DataFrame,
                     splits: pd.DataFrame, findings: list[str], settings: dict[str, Any], init_spec: Any,
                     registry: dict[str, Any], out_dir: Path, model_name: str,
                     lineage: dict[str, str]) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Train one cell inside its MLflow child run and register its best model; returns (card, prediction tables).

    A missing initialization (weights not on this machine) gives a skipped card instead, with the
    message that says how to provide them.
    """
    store_size = int(settings.get("store_size") or images.sizes[0])
    predict = [s for s in ("val", "test") if (splits["split"] == s).any()]
    config = {
        "init": init_spec, "inits": registry, "store": str(images.path / str(store_size)), "labels": labels,
        "splits": splits, "findings": findings, "img_size": int(settings.get("img_size", 224)),
        "normalization": settings.get("normalization", "init"), "preset": settings.get("preset", "default"),
        "train": dict(settings.get("train") or {}), "out_dir": str(out_dir), "device": settings.get("device", "auto"),
        "predict": predict,
    }
    with tracking.child_run(stage, init=init, source=source) as run:
        try:
            cell = train_cell(config, callbacks=[tracking.EpochLogger()] if run else [])
        except WeightsUnavailable as err:
            if run:
                import mlflow

                mlflow.set_tags({"skipped": "true", "skip_reason": str(err)[:5000]})
            return skipped(stage, init, source, str(err)), {}
        summary = {k: v for k, v in cell.summary.items() if k != "history"}
        card = {"stage": stage, "init": init, "source": source, "skipped": False, **summary}
        if run:
            import mlflow

            mlflow.log_params(tracking.flatten_params({
                "findings": findings, "img_size": config["img_size"], "store_size": store_size,
                "normalization": config["normalization"], "preset": config["preset"], "arch": summary["arch"],
                "train": summary["train_config"], "contract": summary["contract"], "lineage": lineage,
            }))
            mlflow.set_tags({"mlflow.source.git.commit": tracking.git_commit(Path.cwd()),
                             "findings": ",".join(findings)})
            mlflow.log_dict(cell.summary["history"], "history.json")
            files = {"weights": summary["best_weights"]} if summary.get("best_weights") else {}
            card["preprocessing"] = preprocessing(images, store_size)
            card["registry"] = tracking.register_model(
                cell.model, name=model_name, contract=summary["contract"], findings=findings,
                score=float(summary["best_score"]), lineage=lineage, files=files,
                preprocessing=card["preprocessing"])
    return card, cell.tables
