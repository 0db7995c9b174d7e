"""The shape of a study: which sources, cells and pretraining targets the pipelines are built for.

A :class:`StudyLayout` is derived from the validated settings of the running environment (sources
from ``sources``, arms from ``finetuning.inits``, MIMIC targets from the format registry and
``sources.<name>.mimic_target``, the demo from ``demo``). The project's Kedro context activates the
layout of its environment before the pipelines are registered (:func:`activate`); commands that
create no context (``kedro registry list``) fall back to :func:`load_layout`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrinit.config import PRETRAINED_INIT, SSL_INIT, ProjectSettings

log = logging.getLogger(__name__)

#: Namespace of the supervised pretraining cells; ``mimic_init.<target>`` (or ``mimic_init.shared``).
PRETRAINING_NAMESPACE = "mimic_init"
SHARED = "shared"


@dataclass(frozen=True)
class StudyLayout:
    """Sources (enabled, in configuration order), arms, MIMIC targets, the pretraining mode, the demo."""

    sources: tuple[str, ...]
    inits: tuple[str, ...]
    mimic_targets: tuple[str, ...]
    pretraining_source: str = "mimic"
    pretraining_mode: str = "per_target"
    demo_sources: tuple[str, ...] = ()
    env: str | None = None
    harmonize_with_pixels: bool = True  # harmonization.use_pixel_store
    ssl: bool = False  # the ssl arm is configured: the selfsupervised stage runs
    ssl_sources: tuple[str, ...] = ()  # whose training images it sees
    ssl_probe: str | None = None  # the labelled source of its k-NN probe
    ssl_label_set: str = "study"  # the probe's findings (finetuning.label_set)
    ssl_folders: bool = False  # it reads folders: every source's held-out images are checked against them

    @classmethod
    def from_settings(cls, settings: ProjectSettings, env: str | None = None) -> StudyLayout:
        sources = tuple(settings.enabled_sources())
        inits = tuple(settings.finetuning.inits)
        targets = tuple(s for s in sources if settings.is_mimic_target(s)) if PRETRAINED_INIT in inits else ()
        # the demo writes the synthetic root of every enabled source it has a cohort for
        demo = tuple(s for s in settings.demo.sources if s in sources) if settings.demo.enabled else ()
        ssl = SSL_INIT in inits
        probe = settings.selfsupervised.probe
        probe_source = (probe.source or sources[0]) if ssl and probe.enabled and sources else None
        return cls(sources, inits, targets, settings.pretraining.source, settings.pretraining.mode, demo, env,
                   settings.harmonization.use_pixel_store, ssl, tuple(settings.ssl_sources()) if ssl else (),
                   probe_source, settings.finetuning.label_set, bool(settings.selfsupervised.folders))

    @property
    def demo_enabled(self) -> bool:
        return bool(self.demo_sources)

    def cells(self, source: str | None = None) -> list[tuple[str, str]]:
        """(source, init) of every fine-tuning cell; the pretrained arm only on MIMIC targets."""
        return [(s, i) for s in self.sources for i in self.inits
                if (source is None or s == source) and (i != PRETRAINED_INIT or s in self.mimic_targets)]

    def pretraining_cells(self) -> list[str]:
        """Namespaces' last parts of the pretraining cells: every target, or ``shared`` once."""
        if not self.mimic_targets:
            return []
        return [SHARED] if self.pretraining_mode == SHARED else list(self.mimic_targets)

    def ssl_inputs(self) -> tuple[str, ...]:
        """The sources whose store and splits the selfsupervised stage reads: its own and the probe's, and
        every source when it reads folders (their held-out images are refused there)."""
        wanted = set(self.ssl_sources) | ({self.ssl_probe} if self.ssl_probe else set())
        return self.sources if self.ssl_folders else tuple(s for s in self.sources if s in wanted)

    def ssl_init_card(self) -> str:
        """The dataset holding the card of the self-supervised initialization the ``ssl`` arm starts from."""
        return "ssl_init.card"

    def mimic_init_card(self, target: str) -> str:
        """The dataset holding the card of the initialization that ``target``'s pretrained arm starts from."""
        cell = SHARED if self.pretraining_mode == SHARED else target
        return f"{PRETRAINING_NAMESPACE}.{cell}.card"


_active: StudyLayout | None = None


def activate(layout: StudyLayout) -> None:
    """Make ``layout`` the one the pipelines are built for; registered pipelines are rebuilt if it changed."""
    global _active
    if layout == _active:
        return
    _active = layout
    from kedro.framework.project import pipelines

    pipelines.configure(f"{__name__.split('.')[0]}.pipeline_registry")


def active_layout() -> StudyLayout | None:
    """The layout of the running Kedro context, if one was created in this process."""
    return _active


def load_layout(project_path: Path, env: str | None = None,
                runtime_params: dict[str, Any] | None = None) -> StudyLayout:
    """The layout of ``env`` read from ``project_path``'s configuration (for commands without a context)."""
    from kedro.framework.project import settings

    from cxrinit.config import ConfigOrigins, validate_parameters

    args = dict(settings.CONFIG_LOADER_ARGS)
    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(Path(project_path) / settings.CONF_SOURCE), env=env,
                                          runtime_params=runtime_params, **args)
    origin = ConfigOrigins(loader.conf_source, env, runtime_params, base_env=args.get("base_env", "base"),
                           relative_to=project_path)
    project, _ = validate_parameters(loader["parameters"], origin=origin, env=env)
    return StudyLayout.from_settings(project, env)


__all__ = ["PRETRAINING_NAMESPACE", "SHARED", "StudyLayout", "activate", "active_layout", "load_layout"]
