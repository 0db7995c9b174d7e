"""Project hooks: one MLflow parent run per ``kedro run``, configured by ``mlflow.yaml``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from cxrinit import tracking

log = logging.getLogger(__name__)


class MlflowTrackingHook:
    """Opens the parent run before a pipeline runs and closes it after, tagging what was run and where."""

    def __init__(self) -> None:
        self._config: tracking.TrackingConfig | None = None
        self._project_path: Path | None = None
        self._env: str | None = None
        self._params: dict[str, Any] = {}

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        import mlflow

        self._project_path = Path(context.project_path)
        self._config = tracking.load_config(self._project_path)
        tracking.set_current(self._config)
        self._env = context.env
        self._params = context.params
        if not self._config.enabled:
            return
        mlflow.set_tracking_uri(self._config.tracking_uri)
        if mlflow.get_experiment_by_name(self._config.experiment) is None:
            mlflow.create_experiment(self._config.experiment, artifact_location=self._config.artifact_location)
        mlflow.set_experiment(self._config.experiment)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        import mlflow

        if self._config is None or not self._config.enabled:
            return
        if mlflow.active_run() is not None:
            mlflow.end_run()
        name = run_params.get("pipeline_names") or run_params.get("pipeline_name") or "__default__"
        if isinstance(name, list | tuple):
            name = "+".join(name) or "__default__"
        env = run_params.get("env") or self._env or "local"
        run = mlflow.start_run(run_name=f"kedro run {name} ({env})")
        mlflow.set_tags({
            "stage": "kedro_run",
            "kedro.pipeline": name,
            "kedro.env": env,
            "kedro.session_id": str(run_params.get("session_id") or run_params.get("run_id") or ""),
            "kedro.namespaces": ",".join(run_params.get("namespaces") or []) or "all",
            "kedro.tags": ",".join(run_params.get("tags") or []) or "all",
            "mlflow.source.git.commit": tracking.git_commit(self._project_path or Path.cwd()),
        })
        mlflow.log_params(tracking.flatten_params(self._params))
        log.info("MLflow parent run %s in experiment %r at %s", run.info.run_id, self._config.experiment,
                 self._config.tracking_uri)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._end("FINISHED")

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._end("FAILED")

    def _end(self, status: str) -> None:
        import mlflow

        if self._config is not None and self._config.enabled and mlflow.active_run() is not None:
            mlflow.end_run(status=status)
