"""``TrackingConfigDataset``: the project's ``mlflow.yaml`` as a node input (read-only).

Nodes that open MLflow runs or register models take the tracking configuration as an explicit input
(catalog entry ``tracking``) instead of a process-wide global; Kedro resolves ``filepath`` against
the project root, never the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from cxrinit.tracking import TrackingConfig, load_config


class TrackingConfigDataset(AbstractDataset[None, TrackingConfig]):
    """Loads :class:`~cxrinit.tracking.TrackingConfig` from ``filepath`` (``MLFLOW_TRACKING_URI`` wins)."""

    def __init__(self, filepath: str, environment: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        """``environment``: the ``environments.<name>`` block of the file to apply (the demo's catalog sets it)."""
        self._filepath = Path(filepath)
        self._environment = environment
        self.metadata = metadata

    def load(self) -> TrackingConfig:
        return load_config(self._filepath, self._environment)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath} is configuration: edit the file, nodes do not write it")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "environment": self._environment}
