"""A training cell inside its MLflow child run: epoch metrics, parameters, history, the registered model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .config import TrackingConfig, flatten_params, git_commit
from .registry import register_model
from .runs import EpochLogger, child_run


def track_cell(config: TrackingConfig, cell: Any, *, stage: str, init: str, source: str, model_name: str,
               lineage: Mapping[str, str],
               preprocessing: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Train ``cell`` (a :class:`~cxrinit.training.cell.CellConfig`) in a child run and register its best model.

    Returns (card, prediction tables). The card holds the cell's summary, its ``preprocessing`` and
    ``registry`` (name, version, run id, alias, model URI) when tracking is on. Raises
    ``WeightsUnavailable`` (after tagging the run ``skipped``) when the init's weights are not here.
    """
    from cxrinit.models import WeightsUnavailable
    from cxrinit.training.cell import train_cell

    with child_run(config, stage, init=init, source=source) as run:
        try:
            trained = train_cell(cell, callbacks=[EpochLogger()] if run else [])
        except WeightsUnavailable as err:
            if run:
                import mlflow

                mlflow.set_tags({"skipped": "true", "skip_reason": str(err)[:5000]})
            raise
        summary = {k: v for k, v in trained.summary.items() if k != "history"}
        card: dict[str, Any] = {"stage": stage, "init": init, "source": source, "skipped": False, **summary,
                                "preprocessing": dict(preprocessing)}
        if run:
            import mlflow

            mlflow.log_params(flatten_params({
                "findings": summary["findings"], "img_size": cell.img_size, "store_size": preprocessing["store_size"],
                "normalization": cell.normalization, "preset": cell.preset, "arch": summary["arch"],
                "train": summary["train_config"], "contract": summary["contract"], "lineage": dict(lineage),
            }))
            mlflow.set_tags({"mlflow.source.git.commit": git_commit(config.project_path),
                             "findings": ",".join(summary["findings"]),
                             "selection_metric": summary["selection"]["metric"]})
            mlflow.log_dict(trained.summary["history"], "history.json")
            files = {"weights": summary["best_weights"]} if summary.get("best_weights") else {}
            card["registry"] = register_model(
                config, trained.model, name=model_name, contract=summary["contract"], findings=summary["findings"],
                selection=summary["selection"], lineage=lineage, files=files, preprocessing=preprocessing)
    return card, trained.tables


__all__ = ["track_cell"]
