"""MLflow settings from the top-level ``mlflow.yaml`` (read by the project hook and the ``tracking`` dataset)."""

from __future__ import annotations

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
_METRIC = re.compile(r"[^\w\-. :/]")


@dataclass(frozen=True)
class TrackingConfig:
    """What ``mlflow.yaml`` says, with relative paths made absolute against the project root."""

    enabled: bool
    tracking_uri: str
    artifact_location: str | None
    experiment: str
    registry: dict[str, str] = field(default_factory=dict)
    ui: dict[str, Any] = field(default_factory=dict)
    project_path: Path | None = None

    def model_name(self, kind: str, **fields: str) -> str:
        """A registered model's name from the ``registry`` templates: ``kind`` is ``model_name`` (a
        fine-tuned cell: ``{source}``, ``{init}``) or ``init_model_name`` (a pretrained initialization)."""
        defaults = {"model_name": "cxrinit-{source}-{init}", "init_model_name": "cxrinit-init-{init}-{labelset}"}
        return self.registry.get(kind, defaults[kind]).format(**fields)


def _absolute_sqlite(uri: str, root: Path) -> str:
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix):].startswith("/"):
        return prefix + str((root / uri[len(prefix):]).resolve())
    return uri


#: Keys of mlflow.yaml (an ``environments.<env>`` block may set any of them but ``environments``).
KEYS = ("enabled", "tracking_uri", "artifact_location", "experiment", "registry", "ui", "environments")


def load_config(project_path: Path, env: str | None = None) -> TrackingConfig:
    """Read ``<project_path>/mlflow.yaml`` (or the file ``project_path`` itself), with the keys of its
    ``environments.<env>`` block over the top-level ones (the demo keeps its own store that way);
    ``MLFLOW_TRACKING_URI`` overrides the tracking URI. Relative paths are relative to the file's
    folder (the project). ValueError names the file and key of an unknown or missing setting."""
    path = Path(project_path)
    path = path if path.is_file() else path / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: it configures MLflow tracking (copy it from the repository)")
    raw = yaml.safe_load(path.read_text()) or {}
    environments = raw.pop("environments", None) or {}
    for where, block in [("", raw), *((f"environments.{e}.", b or {}) for e, b in environments.items())]:
        unknown = sorted(set(block) - set(KEYS) - ({"environments"} if where else set()))
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {', '.join(where + k for k in unknown)}; keys are {', '.join(KEYS)}")
    for key, value in (environments.get(env) or {}).items() if env else ():
        raw[key] = {**(raw.get(key) or {}), **value} if isinstance(value, dict) else value
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
        project_path=path.parent,
    )


def git_commit(project_path: Path | None) -> str:
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


def metric_name(name: str) -> str:
    """``val_auroc_Nodule/Mass (x)`` -> a name MLflow accepts (odd characters become ``_``)."""
    return _METRIC.sub("_", name)
