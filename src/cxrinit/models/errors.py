"""Errors of the models package, importable without torch (the pipelines catch them)."""

from __future__ import annotations


class WeightsUnavailable(RuntimeError):
    """An initialization's weights cannot be had here (offline, or no file); the message says how to provide them."""

    #: The cell is skipped, not failed: its MLflow run ends FINISHED (tagged ``skipped``).
    skips_run = True
