"""Project hooks: checks that need the pipeline about to run, and one MLflow parent run per ``kedro run``.

Before the first node: a demo run outside the demo environment is refused (its roots may hold real
data), the dataset ``provenance`` (environment, git commit, synthetic or real data) joins the catalog,
and every source root the run reads must exist (all missing ones are listed at once, each with its
format's expected layout). Then the parent run opens, tagged with what runs where, with the
resolved parameters (the label ontology as an artifact).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from cxrinit import logs, tracking
from cxrinit.config import PRETRAINED_INIT, SSL_INIT, demo_disabled_message
from cxrinit.provenance import Provenance

log = logging.getLogger(__name__)

#: Catalog suffix of a source's native download (``<source>.raw``).
RAW = ".raw"


def _is_timm_model(arch: str) -> bool:
    import timm

    return bool(timm.is_model(arch))


def _closest_timm(arch: str) -> str:
    import difflib

    import timm

    close = difflib.get_close_matches(arch.split(".")[0], timm.list_models(), n=1, cutoff=0.8)
    return f" (did you mean `{close[0]}`?)" if close else " (timm.list_models() lists them)"


class RunRefused(RuntimeError):
    """The run cannot start: the message says why and what to change. Nothing has run."""


class EndOfRunNotices(logging.Handler):
    """Collects the log records marked ``extra={"cxrinit_end_of_run": True}`` while a pipeline runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "cxrinit_end_of_run", False):
            self.messages.append((record.getMessage(), getattr(record, "cxrinit_rerun", None)))


class ProjectHooks:
    """Opens the parent run before a pipeline runs and closes it after, tagging what was run and where."""

    def __init__(self) -> None:
        self._config: tracking.TrackingConfig | None = None
        self._context: Any = None
        self._params: dict[str, Any] = {}
        self._globals: dict[str, Any] = {}
        self._provenance: Provenance | None = None
        self._notices: EndOfRunNotices | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        import mlflow

        logs.fit_console()
        self._context = context
        self._config = tracking.load_config(Path(context.project_path), getattr(context, "env", None))
        self._params = dict(context.config_loader["parameters"])
        self._globals = dict(context.config_loader["globals"])
        if not self._config.enabled:
            return
        if self._config.tracking_uri.startswith("sqlite:///"):  # SQLite creates the file, not its folder
            Path(self._config.tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self._config.tracking_uri)
        if mlflow.get_experiment_by_name(self._config.experiment) is None:
            mlflow.create_experiment(self._config.experiment, artifact_location=self._config.artifact_location)
        mlflow.set_experiment(self._config.experiment)
        # MLflow records local artifact locations as absolute paths: the project's own store keeps them
        # relative to the project, so that a copied, moved or pulled project keeps working
        tracking.relativize_store(self._config.tracking_uri, Path(context.project_path))

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        project = Path(getattr(self._context, "project_path", "."))
        session = str(run_params.get("session_id") or run_params.get("run_id") or "run")
        path = logs.start_run_log(project, session)
        log.info("this run logs to %s", path.relative_to(project) if path.is_relative_to(project) else path)
        self._check_demo(pipeline, run_params.get("env"))
        # The dataset `provenance` (every table, figure, card and registered model carries it)
        env = run_params.get("env") or getattr(self._context, "env", None)
        self._provenance = Provenance.of(project, env, self._globals)
        catalog.save("provenance", self._provenance)
        self._check_roots(pipeline, catalog)
        self._check_architectures(pipeline)
        self._notices = EndOfRunNotices()
        logging.getLogger("cxrinit").addHandler(self._notices)
        self._start_parent_run(run_params)

    def _check_demo(self, pipeline: Any, env: str | None) -> None:
        layout = getattr(self._context, "layout", None)
        if layout is not None and not layout.demo_enabled and any("demo" in n.tags for n in pipeline.nodes):
            raise RunRefused(demo_disabled_message(env or getattr(self._context, "env", None)))

    def _check_roots(self, pipeline: Any, catalog: Any) -> None:
        """Every ``<source>.raw`` the run reads (and does not write) must be an existing folder."""
        from cxrinit.sources import FORMATS

        settings = getattr(self._context, "settings", None)
        missing = []
        for name in sorted(n for n in pipeline.inputs() if n.endswith(RAW)):
            if catalog.exists(name):
                continue
            source = name[: -len(RAW)]
            fmt = settings.format_of(source) if settings is not None and source in settings.sources else source
            layout = FORMATS[fmt].layout if fmt in FORMATS else "its native files"
            root = getattr(catalog.get(name), "path", None)
            problem = f"no raw_roots.{source} is set" if root is None else f"{root} does not exist"
            missing.append(f"{source}: {problem} (format {fmt}: a folder holding {layout})")
        if missing:
            lines = "\n".join(f"  - {m}" for m in missing)
            raise RunRefused(f"the run reads source roots that are not there; nothing has run:\n{lines}\n"
                             "Set raw_roots.<source> in conf/local/globals.yml (see conf/local/globals.example.yml), "
                             "run only the sources you have (kedro run --namespaces <source>,...), or set "
                             "sources.<source>.enabled: false in conf/local/parameters_sources.yml.")

    def _check_architectures(self, pipeline: Any) -> None:
        """Every architecture a training node of this run builds must be a timm model (checked here, not when
        the settings are read, so that runs without training never import timm)."""
        settings = getattr(self._context, "settings", None)
        names = {n.name.rsplit(".", 1)[-1] for n in pipeline.nodes}
        if settings is None or not names & {"finetune", "pretrain", "selfsupervise"}:
            return
        from cxrinit.config import ConfigError
        from cxrinit.models.registry import init_spec

        used = {("finetuning", n.namespace.rsplit(".", 1)[-1]) for n in pipeline.nodes
                if n.name.endswith(".finetune") and n.namespace}
        if "pretrain" in names:
            used.add(("pretraining", settings.pretraining.init))
        if "selfsupervise" in names:
            used.add(("selfsupervised", settings.selfsupervised.init))
        problems = []
        for block, init in sorted(used):
            registry = getattr(settings, block).registry
            if init in (PRETRAINED_INIT, SSL_INIT) and init not in registry:
                continue  # the MIMIC and ssl arms' architectures come from their initialization's card
            arch = init_spec(init, registry).arch
            if arch.startswith("hf-hub:") or _is_timm_model(arch):
                continue
            key = [block, "registry", init, "arch"]
            origin = getattr(self._context, "origin", None)
            where = origin(key) if origin is not None and init in registry else None
            problems.append(f"`{'.'.join(key)}`" + (f" (from {where})" if where else "")
                            + f": {arch!r} is not a timm architecture{_closest_timm(arch)}")
        if problems:
            raise ConfigError(problems, env=getattr(self._context, "env", None))

    def _start_parent_run(self, run_params: dict[str, Any]) -> None:
        import mlflow

        if self._config is None or not self._config.enabled:
            return
        if mlflow.active_run() is not None:
            mlflow.end_run()
        name = run_params.get("pipeline_names") or run_params.get("pipeline_name") or "__default__"
        if isinstance(name, list | tuple):
            name = "+".join(name) or "__default__"
        env = run_params.get("env") or getattr(self._context, "env", None) or "local"
        run = mlflow.start_run(run_name=f"kedro run {name} ({env})")
        mlflow.set_tags({
            "stage": "kedro_run",
            "kedro.pipeline": name,
            "kedro.env": env,
            "kedro.session_id": str(run_params.get("session_id") or run_params.get("run_id") or ""),
            "kedro.namespaces": ",".join(run_params.get("namespaces") or []) or "all",
            "kedro.tags": ",".join(run_params.get("tags") or []) or "all",
            "mlflow.source.git.commit": tracking.git_commit(self._config.project_path),
            **(self._provenance.tags() if self._provenance is not None else {}),
        })
        params = {k: v for k, v in self._params.items() if k != "labels"}
        mlflow.log_params(tracking.flatten_params(params))
        if "labels" in self._params:
            mlflow.log_dict(self._params["labels"], "config/labels.yml")
        log.info("MLflow parent run %s in experiment %r at %s", run.info.run_id, self._config.experiment,
                 self._config.tracking_uri)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._end("FINISHED")
        env = getattr(self._context, "env", None)
        flag = f" --env {env}" if env and env != "local" else ""
        for message, rerun in self._take_notices():  # the lines a long log would bury: last, once more
            command = f" (`kedro run{flag} {rerun}`)" if rerun else ""
            log.warning("at the end of the run: %s%s", message, command)
        logs.stop_run_log()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._take_notices()
        self._end("FAILED")
        logs.stop_run_log(failed=True)

    def _take_notices(self) -> list[tuple[str, str | None]]:
        if self._notices is None:
            return []
        logging.getLogger("cxrinit").removeHandler(self._notices)
        messages, self._notices = self._notices.messages, None
        return messages

    def _end(self, status: str) -> None:
        import mlflow

        if self._config is not None and self._config.enabled and mlflow.active_run() is not None:
            mlflow.end_run(status=status)
