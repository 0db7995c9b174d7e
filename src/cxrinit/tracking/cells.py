"""A training cell inside its MLflow child run: epoch metrics, parameters, history, the registered model."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit.provenance import Provenance

from .config import TrackingConfig, flatten_params, git_commit
from .registry import register_model
from .runs import EpochLogger, child_run

log = logging.getLogger(__name__)


def track_cell(config: TrackingConfig, cell: Any, *, stage: str, init: str, source: str, model_name: str,
               lineage: Mapping[str, str], preprocessing: Mapping[str, Any],
               provenance: Provenance | None = None) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Train ``cell`` (a :class:`~cxrinit.training.cell.CellConfig`) in a child run and register its best model.

    Returns (card, prediction tables). The card holds the cell's summary, its ``preprocessing`` and
    ``registry`` (name, version, run id, alias, model URI) when tracking is on, and the ``provenance``
    of the run that trained it (also tags of its run and registered version). Raises
    ``WeightsUnavailable`` (after tagging the run ``skipped``) when the init's weights are not here.
    """
    from cxrinit.models import WeightsUnavailable
    from cxrinit.training.cell import cell_identity, train_cell

    identity = cell_identity(cell, stage=stage, model_name=model_name, lineage=dict(lineage),
                             preprocessing=dict(preprocessing))
    finished = finished_cell(cell.out_dir, identity)
    if finished is not None:
        log.info("%s %s/%s: already trained with these exact inputs (%s): its card and predictions are kept, "
                 "nothing is trained or registered", stage, source, init, cell.out_dir / DONE)
        return finished
    with child_run(config, stage, init=init, source=source) as run:
        try:
            trained = train_cell(cell, callbacks=[EpochLogger()] if run else [])
        except WeightsUnavailable as err:  # a skip, not a failure (`skips_run`): the run ends FINISHED, tagged why
            if run:
                import mlflow

                mlflow.set_tags({"skipped": "true", "skip_reason": str(err)[:5000]})
            raise
        summary = {k: v for k, v in trained.summary.items() if k != "history"}
        card: dict[str, Any] = {"stage": stage, "init": init, "source": source, "skipped": False, **summary,
                                "preprocessing": dict(preprocessing), "lineage": dict(lineage)}
        if provenance is not None:
            card["provenance"] = provenance.as_dict()
        if run:
            import mlflow

            # The stage's settings under the names the parent run logs them (`finetuning.img_size`, and
            # `finetuning.train.lr` resolved for this cell); what only a cell has under `cell.`
            mlflow.log_params(flatten_params({
                stage: {"img_size": cell.img_size, "store_size": preprocessing["store_size"],
                        "normalization": cell.normalization, "preset": cell.preset, "train": summary["train_config"]},
                "cell": {"findings": summary["findings"], "arch": summary["arch"], "contract": summary["contract"],
                         "lineage": dict(lineage)},
            }))
            mlflow.set_tags({"mlflow.source.git.commit": git_commit(config.project_path),
                             "findings": ",".join(summary["findings"]),
                             "selection_metric": summary["selection"]["metric"], "skipped": "false",
                             **(provenance.tags() if provenance is not None else {})})
            mlflow.log_dict(trained.summary["history"], "history.json")
            files = {"weights": summary["best_weights"]} if summary.get("best_weights") else {}
            card["registry"] = register_model(
                config, trained.model, name=model_name, contract=summary["contract"], findings=summary["findings"],
                selection=summary["selection"], lineage=lineage, files=files, preprocessing=preprocessing,
                tags=provenance.tags() if provenance is not None else None)
    record_finished(cell.out_dir, identity, card, trained.tables)
    return card, trained.tables


#: The file in a cell's folder that says it finished, with what inputs, and its card.
DONE = "cell.json"


def record_finished(out_dir: Path, identity: str, card: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> None:
    """Write the cell's prediction tables and, last, ``cell.json`` (identity + card + table files)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, table in tables.items():
        table.to_parquet(out_dir / f"predictions_{split}.parquet", index=False)
        files[split] = f"predictions_{split}.parquet"
    tmp = out_dir / (DONE + ".tmp")
    tmp.write_text(json.dumps({"identity": identity, "card": dict(card), "predictions": files}, indent=1,
                              default=str))
    tmp.replace(out_dir / DONE)


def finished_cell(out_dir: Path, identity: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame]] | None:
    """The card and prediction tables of a cell that finished with inputs of this ``identity``, else None."""
    path = Path(out_dir) / DONE
    if not path.is_file():
        return None
    try:
        done = json.loads(path.read_text())
    except ValueError:
        return None
    if done.get("identity") != identity:
        return None
    card = done["card"]
    best = card.get("best_weights")
    files = {split: Path(out_dir) / name for split, name in (done.get("predictions") or {}).items()}
    if (best and not Path(best).is_file()) or not all(f.is_file() for f in files.values()):
        return None
    return card, {split: pd.read_parquet(f) for split, f in files.items()}


__all__ = ["DONE", "finished_cell", "record_finished", "track_cell"]
