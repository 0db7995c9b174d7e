"""MLflow runs of the training stages and the evaluation: child runs per cell, epoch metrics, report artifacts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .config import TrackingConfig, metric_name


class EpochLogger:
    """Training callback: every epoch's metrics to the active MLflow run, the epoch as step."""

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        import mlflow

        values = {metric_name(k): float(v) for k, v in metrics.items()
                  if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))}
        mlflow.log_metrics(values, step=epoch)


class child_run:
    """A run for one (stage, init, source) cell, nested under the ``kedro run``'s parent run when there is one.

    With tracking disabled (``enabled: false`` in mlflow.yaml) it opens nothing and yields None.
    """

    def __init__(self, config: TrackingConfig, stage: str, *, init: str, source: str,
                 extra_tags: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.stage, self.init, self.source, self.extra = stage, init, source, dict(extra_tags or {})

    def __enter__(self) -> Any:
        if not self.config.enabled:
            return None
        import mlflow

        mlflow.set_tracking_uri(self.config.tracking_uri)
        parent = mlflow.active_run()
        self.run = mlflow.start_run(run_name=f"{self.stage} {self.init}/{self.source}", nested=parent is not None)
        tags = {"stage": self.stage, "init": self.init, "source": self.source, **self.extra}
        if parent is not None:
            tags["kedro.parent_run"] = parent.info.run_id
        mlflow.set_tags(tags)
        return self.run

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.config.enabled:
            import mlflow

            # An exception that only means "this cell does not run here" (``skips_run``) is no failure
            skip = exc is not None and getattr(exc, "skips_run", False)
            mlflow.end_run(status="FAILED" if exc_type and not skip else "FINISHED")


def log_report(config: TrackingConfig, outputs: Mapping[str, Any], *, prefix: str) -> None:
    """Log a stage's tables (CSV), texts and figures as artifacts of the active MLflow run, if any."""
    if not config.enabled:
        return
    import mlflow
    import pandas as pd
    from matplotlib.figure import Figure

    if mlflow.active_run() is None:
        return
    for key, value in outputs.items():
        if isinstance(value, pd.DataFrame) and len(value):
            mlflow.log_text(value.to_csv(index=False), f"{prefix}/{key}.csv")
        elif isinstance(value, str):
            mlflow.log_text(value, f"{prefix}/{key}.md")
        elif isinstance(value, Mapping):
            for name, figure in value.items():
                if isinstance(figure, Figure):
                    mlflow.log_figure(figure, f"{prefix}/{name}")


def log_evaluation(config: TrackingConfig, outputs: Mapping[str, Any], *, cards: Mapping[str, Mapping[str, Any]],
                   provenance: Any = None) -> None:
    """The evaluation in MLflow: its report (:func:`log_report`) and the study table as an MLflow table
    (``evaluation/study_table.json``, shown in the UI's artifact view) on the active (parent) run, and
    each trained cell's headline test metrics on that cell's own run, so that the compare view puts
    the inits side by side: ``test_auroc_<finding>`` (comparable across inits), ``test_<metric>_mean``
    over the cell's own findings, ``test_n_images``. A cell whose run is not in this store is skipped
    with a warning."""
    if not config.enabled:
        return
    import logging

    import mlflow
    from mlflow import MlflowClient

    log_report(config, outputs, prefix="evaluation")
    active = mlflow.active_run()
    table = outputs.get("study_table")
    if active is not None and table is not None and len(table):
        mlflow.log_table(data=table.astype({c: str for c in table.columns if table[c].dtype == object}),
                         artifact_file="evaluation/study_table.json")
        if provenance is not None:
            mlflow.set_tags(provenance.tags())
    summary = outputs.get("summary")
    if summary is None or not len(summary):
        return
    client = MlflowClient(config.tracking_uri)
    for source, by_init in cards.items():
        for init, card in by_init.items():
            run_id = ((card or {}).get("registry") or {}).get("run_id")
            rows = summary[(summary["source"] == source) & (summary["init"] == init)]
            if not run_id or rows.empty:
                continue
            values = {}
            for r in rows.itertuples():
                if not math.isfinite(float(r.point)):
                    continue
                name = f"test_{r.metric}_mean" if r.finding == "mean" else (
                    f"test_auroc_{r.finding}" if r.metric == "auroc" else None)
                if name:
                    values[metric_name(name)] = float(r.point)
            n = table[table["source"] == source]["n_images"].dropna() if table is not None else ()
            if len(n):
                values["test_n_images"] = float(n.iloc[0])
            try:
                for key, value in values.items():
                    client.log_metric(run_id, key, value)
            except mlflow.exceptions.MlflowException as err:
                logging.getLogger(__name__).warning("evaluation %s/%s: its training run %s is not in %s (%s); its test"
                                                    " metrics stay in the study table only", source, init, run_id,
                                                    config.tracking_uri, err)


__all__ = ["EpochLogger", "child_run", "log_evaluation", "log_report"]
