"""The self-supervised pretraining inside its MLflow child run: losses per epoch, the probe, the registered backbone."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cxrinit.provenance import Provenance

from .cells import finished_cell, record_finished
from .config import TrackingConfig, flatten_params, git_commit, metric_name
from .registry import register_model
from .runs import EpochLogger, child_run

log = logging.getLogger(__name__)

STAGE = "selfsupervised"


def track_ssl(config: TrackingConfig, cell: Any, *, model_name: str, lineage: Mapping[str, Any],
              preprocessing: Mapping[str, Any], data: Mapping[str, Any],
              provenance: Provenance | None = None) -> dict[str, Any]:
    """Pretrain ``cell`` (a :class:`~cxrinit.selfsupervised.SSLCell`) in a child run and register its backbone.

    Returns the card: the run's summary (start weights, images per part, epochs, final loss, probe
    before/after), ``lineage`` (method, data, epochs, start weights), ``data`` (what was used and
    dropped, with reasons), ``preprocessing`` and ``registry`` when tracking is on. A run with these
    exact inputs that already finished is not repeated. Raises ``WeightsUnavailable`` (run tagged
    skipped) when the start weights are not here.
    """
    from cxrinit.models import WeightsUnavailable
    from cxrinit.selfsupervised import pretrain_cell, ssl_identity

    identity = ssl_identity(cell, model_name=model_name, lineage=dict(lineage), preprocessing=dict(preprocessing))
    finished = finished_cell(cell.out_dir, identity)
    if finished is not None:
        log.info("selfsupervised: already pretrained with these exact inputs (%s): its card is kept", cell.out_dir)
        return finished[0]
    with child_run(config, STAGE, init="ssl", source="+".join(p.name for p in cell.parts)) as run:
        try:
            trained = pretrain_cell(cell, callbacks=[EpochLogger()] if run else [])
        except WeightsUnavailable as err:
            if run:
                import mlflow

                mlflow.set_tags({"skipped": "true", "skip_reason": str(err)[:5000]})
            raise
        summary = {k: v for k, v in trained.summary.items() if k != "history"}
        lineage = {**lineage, "epochs": summary["epochs_run"]}
        card: dict[str, Any] = {"stage": STAGE, "init": "ssl", "source": "unlabeled", "skipped": False, **summary,
                                "data": dict(data), "preprocessing": dict(preprocessing), "lineage": lineage}
        if provenance is not None:
            card["provenance"] = provenance.as_dict()
        if run:
            import mlflow

            mlflow.log_params(flatten_params({
                STAGE: {"img_size": cell.img_size, "store_size": preprocessing["store_size"], "init": summary["init"],
                        "method": "dino", "dino": cell.dino.model_dump(mode="json"),
                        "crops": cell.crops.model_dump(mode="json"), "train": summary["train_config"],
                        "probe": cell.probe.model_dump(mode="json")},
                "cell": {"arch": summary["arch"], "contract": summary["contract"], "images": summary["images"]},
            }))
            for when, probe in summary["probe"].items():
                values = {f"probe_{when}_knn_auroc_mean": probe["auroc_mean"],
                          **{f"probe_{when}_knn_auroc_{f}": a for f, a in probe["auroc"].items()}}
                mlflow.log_metrics({metric_name(k): float(v) for k, v in values.items() if v == v})
            mlflow.set_tags({"mlflow.source.git.commit": git_commit(config.project_path), "skipped": "false",
                             **(provenance.tags() if provenance is not None else {})})
            mlflow.log_dict(trained.summary["history"], "history.json")
            card["registry"] = register_model(
                config, trained.backbone, name=model_name, contract=summary["contract"], findings=[],
                selection={"metric": "last_epoch", "value": None, "epoch": summary["epochs_run"]},
                lineage={k: str(v) for k, v in lineage.items()}, files={"weights": summary["best_weights"]},
                preprocessing=preprocessing, tags=provenance.tags() if provenance is not None else None)
    record_finished(cell.out_dir, identity, card, {})
    return card


__all__ = ["track_ssl"]
