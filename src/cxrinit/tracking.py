"""MLflow settings from the top-level ``mlflow.yaml``, shared by the hooks and the pipelines (glue code)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILE = "mlflow.yaml"
#: MLflow refuses parameter values longer than this.
MAX_PARAM_LENGTH = 6000
#: What MLflow accepts in a parameter name.
_NAME = re.compile(r"[\w\-. :/]+")


@dataclass(frozen=True)
class TrackingConfig:
    """What ``mlflow.yaml`` says, with relative paths made absolute against the project root."""

    enabled: bool
    tracking_uri: str
    artifact_location: str | None
    experiment: str
    registry: dict[str, str] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)


def _absolute_sqlite(uri: str, root: Path) -> str:
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        return prefix + str((root / uri[len(prefix):]).resolve())
    return uri


def load_config(project_path: Path) -> TrackingConfig:
    """Read ``<project_path>/mlflow.yaml``; ``MLFLOW_TRACKING_URI`` overrides its tracking URI."""
    path = Path(project_path) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: it configures MLflow tracking (copy it from the repository)")
    raw = yaml.safe_load(path.read_text()) or {}
    for key in ("tracking_uri", "experiment"):
        if not raw.get(key):
            raise ValueError(f"{path}: key {key!r} is required")
    override = os.environ.get("MLFLOW_TRACKING_URI")
    uri = override or _absolute_sqlite(str(raw["tracking_uri"]), path.parent)
    artifacts: str | None
    if override:
        # Another store was chosen: keep artifacts beside a SQLite file, let a server decide otherwise.
        db = override[len("sqlite:///"):] if override.startswith("sqlite:///") else None
        artifacts = (Path(db).parent / "mlartifacts").resolve().as_uri() if db else None
    else:
        location = str(raw.get("artifact_location") or "mlartifacts")
        artifacts = location if "://" in location else (path.parent / location).resolve().as_uri()
    return TrackingConfig(
        enabled=bool(raw.get("enabled", True)),
        tracking_uri=uri,
        artifact_location=artifacts,
        experiment=str(raw["experiment"]),
        registry=dict(raw.get("registry") or {}),
        ui=dict(raw.get("ui") or {}),
    )


def git_commit(project_path: Path) -> str:
    """The checked-out commit, suffixed ``-dirty`` when the work tree has changes; ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_path, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_path,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as ``a.b.c -> str(value)``, values cut to MLflow's length limit.

    A mapping whose keys MLflow cannot name (a view map's ``Frontal|PA`` or ``""``) stays one value.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and all(_NAME.fullmatch(str(k)) for k in value):
            flat.update(flatten_params(value, name + "."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


# --- runs of the training stages (used by the pretraining / finetuning nodes) ---------------------

_current: TrackingConfig | None = None
_METRIC = re.compile(r"[^\w\-. :/]")


def set_current(config: TrackingConfig | None) -> None:
    """Remember the configuration of this ``kedro run`` (set by the project hook)."""
    global _current
    _current = config


def current_config() -> TrackingConfig:
    """The configuration of this ``kedro run``, or ``mlflow.yaml`` of the working directory."""
    return _current or load_config(Path.cwd())


def metric_name(name: str) -> str:
    """``val_auroc_Nodule/Mass (x)`` -> a name MLflow accepts (odd characters become ``_``)."""
    return _METRIC.sub("_", name)


class EpochLogger:
    """Training callback: every epoch's metrics to the active MLflow run, the epoch as step."""

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        import math

        import mlflow

        values = {metric_name(k): float(v) for k, v in metrics.items()
                  if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))}
        mlflow.log_metrics(values, step=epoch)


class child_run:
    """A run for one (stage, init, source) cell, nested under the ``kedro run``'s parent run when there is one."""

    def __init__(self, stage: str, *, init: str, source: str, extra_tags: Mapping[str, str] | None = None) -> None:
        self.stage, self.init, self.source, self.extra = stage, init, source, dict(extra_tags or {})
        self.enabled = current_config().enabled

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        import mlflow

        parent = mlflow.active_run()
        self.run = mlflow.start_run(run_name=f"{self.stage} {self.init}/{self.source}", nested=parent is not None)
        tags = {"stage": self.stage, "init": self.init, "source": self.source, **self.extra}
        if parent is not None:
            tags["kedro.parent_run"] = parent.info.run_id
        mlflow.set_tags(tags)
        return self.run

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.enabled:
            import mlflow

            mlflow.end_run(status="FAILED" if exc_type else "FINISHED")


def register_model(model: Any, *, name: str, contract: Mapping[str, Any], findings: list[str], score: float,
                   lineage: Mapping[str, str], files: Mapping[str, str | Path] = (),
                   preprocessing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Log ``model`` (mlflow.pytorch, with a signature) in the active run and register it as ``name``.

    The new version carries its input contract, label list, preprocessing (pixel-store recipe and
    resolution), lineage and validation score as tags; the
    registry alias (``registry.best_alias``) moves to it when its score beats the aliased version's.
    """
    import mlflow
    import numpy as np
    import torch
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    config = current_config()
    alias = config.registry.get("best_alias", "best")
    size = int(contract["size"])
    # Batch of 2: the exported (pt2) graph keeps the batch dimension dynamic.
    example = np.random.default_rng(0).random((2, int(contract.get("channels", 3)), size, size), np.float32)
    model = model.to("cpu").eval()
    with torch.no_grad():
        output = model(torch.from_numpy(example)).numpy()
    for label, path in dict(files).items():
        mlflow.log_artifact(str(path), artifact_path=label)
    # pt2 (torch.export) loads without unpickling code, like our own weights_only checkpoints.
    # Requirements stated, not inferred: inference starts a subprocess that imports everything (seconds per model).
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}"]
    info = mlflow.pytorch.log_model(model, name="model", signature=infer_signature(example, output),
                                    input_example=example, serialization_format="pt2",
                                    pip_requirements=requirements, registered_model_name=name)
    client = MlflowClient()
    version = str(info.registered_model_version)
    tags = {"input_contract": json.dumps(dict(contract)), "findings": json.dumps(list(findings)),
            "preprocessing": json.dumps(dict(preprocessing or {})),
            "val_auroc_mean": f"{score:.6f}", **{f"lineage.{k}": str(v) for k, v in lineage.items()}}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    try:
        best = client.get_model_version_by_alias(name, alias)
        best_score = float(best.tags.get("val_auroc_mean", "nan"))
    except Exception:  # no version holds the alias yet
        best_score = float("nan")
    if not best_score >= score:  # also when the aliased score is NaN
        client.set_registered_model_alias(name, alias, version)
    return {"name": name, "version": version, "run_id": mlflow.active_run().info.run_id, "alias": alias,
            "model_uri": info.model_uri}


def log_report(outputs: Mapping[str, Any], *, prefix: str) -> None:
    """Log a stage's tables (CSV), texts and figures as artifacts of the active MLflow run, if any."""
    import mlflow
    import pandas as pd
    from matplotlib.figure import Figure

    if mlflow.active_run() is None or not current_config().enabled:
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
