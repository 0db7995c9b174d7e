"""The project's Kedro context: every setting validated, and the study's layout chosen, before anything runs.

Kedro creates the context for ``kedro run``, ``kedro viz``, notebooks and sessions alike
(``settings.CONTEXT_CLASS``). On creation it validates the resolved parameters of the running
environment (:func:`cxrinit.config.validate_parameters`: a :class:`~cxrinit.config.ConfigError`
names each bad key, its file or ``--params``, and the fix) and activates the
:class:`~cxrinit.pipelines.layout.StudyLayout` the pipelines are built from.
"""

from __future__ import annotations

from typing import Any

from kedro.framework.context import KedroContext

from cxrinit.config import ConfigOrigins, ProjectSettings, validate_parameters
from cxrinit.labels import Ontology
from cxrinit.pipelines.layout import StudyLayout, activate


class ProjectContext(KedroContext):
    """:class:`KedroContext` plus ``settings`` (validated), ``ontology`` and ``layout`` of the environment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from kedro.framework.project import settings

        loader = self.config_loader
        env = self.env or settings.CONFIG_LOADER_ARGS.get("default_run_env", "local")
        origin = ConfigOrigins(loader.conf_source, env, self._runtime_params,
                               base_env=settings.CONFIG_LOADER_ARGS.get("base_env", "base"),
                               relative_to=self.project_path)
        self.origin = origin  # where each parameter came from (checks made later name it too)
        self.settings: ProjectSettings
        self.ontology: Ontology
        self.settings, self.ontology = validate_parameters(loader["parameters"], origin=origin, env=env,
                                                           globals_=loader["globals"],
                                                           globals_origin=origin.for_globals())
        self.layout = StudyLayout.from_settings(self.settings, env)
        activate(self.layout)
