"""Every setting of a run at once: each block validated, then the checks that span blocks.

:func:`validate_parameters` is what the project's Kedro context calls on the resolved parameters of
the running environment before anything runs; it raises one :class:`ConfigError` listing every
problem with its key, its origin and the fix.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator

from cxrinit.labels.errors import OntologyError
from cxrinit.labels.ontology import Ontology, ontology_from_dict

from .base import ConfigError, Origin, Settings, describe
from .demo import DemoSettings
from .evaluation import EvaluationSettings
from .globals_ import GlobalsSettings
from .harmonization import HarmonizationSettings
from .ingestion import IngestionSettings
from .sources import SourceSettings, check_sources
from .selfsupervised import SSL_INIT, SelfSupervisedSettings
from .training import FinetuningSettings, PretrainingSettings

#: The initialization whose cells fine-tune from the supervised pretraining stage.
PRETRAINED_INIT = "mimic"


class ProjectSettings(Settings):
    """All parameter blocks (one per pipeline, plus ``sources``); ``labels`` is validated on its own."""

    OTHER_TOP_LEVEL_KEYS: ClassVar[tuple[str, ...]] = ("labels",)

    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    harmonization: HarmonizationSettings = Field(default_factory=HarmonizationSettings)
    pretraining: PretrainingSettings = Field(default_factory=PretrainingSettings)
    selfsupervised: SelfSupervisedSettings = Field(default_factory=SelfSupervisedSettings)
    finetuning: FinetuningSettings = Field(default_factory=FinetuningSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)

    @field_validator("sources")
    @classmethod
    def _sources(cls, sources: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
        return check_sources(sources)

    def enabled_sources(self) -> dict[str, SourceSettings]:
        return {name: s for name, s in self.sources.items() if s.enabled}

    def ssl_sources(self) -> list[str]:
        """The sources whose training images the self-supervised stage sees (``selfsupervised.sources``, else all)."""
        chosen = self.selfsupervised.sources
        return list(self.enabled_sources()) if chosen is None else list(chosen)

    def format_of(self, source: str) -> str:
        return self.sources[source].format or source

    def is_mimic_target(self, source: str) -> bool:
        """Whether ``source`` gets a MIMIC-pretrained arm: its setting, else its format's default."""
        from cxrinit.sources import get_format

        entry = self.sources[source]
        if source == self.pretraining.source:
            return False
        return entry.mimic_target if entry.mimic_target is not None else get_format(self.format_of(source)).mimic_target


def cross_check(settings: ProjectSettings, ontology: Ontology) -> list[tuple[tuple[str, ...], str]]:
    """Problems that span blocks, as (key path, message): every name must exist where it is looked up."""
    problems: list[tuple[tuple[str, ...], str]] = []
    sources = settings.enabled_sources()
    if not sources:
        problems.append((("sources",), "no source is enabled: the study needs at least one dataset "
                         "(conf/base/parameters_sources.yml)"))
    for name in sources:
        if name not in ontology.sources:
            problems.append((("sources", name), f"no labels for this source: add sources.{name}, policies.{name} "
                             f"and splits.{name} to labels.yml (a folder dataset: docs/extending.md)"))
    harm = settings.harmonization
    if harm.preset != "default" and harm.preset not in ontology.presets:
        problems.append((("harmonization", "preset"), f"unknown preset {harm.preset!r}; labels.yml has "
                         f"{', '.join(sorted({'default', *ontology.presets}))}"))
    for key in ("policy_overrides", "split_overrides"):
        for name, override in getattr(harm, key).items():
            where = ("harmonization", key, name)
            if name not in settings.sources:
                problems.append((where, f"{name!r} is not a source ({', '.join(settings.sources)})"))
                continue
            if name not in sources:
                continue  # a source switched off keeps its overrides for when it is switched on again
            try:
                if key == "policy_overrides":
                    ontology.policy(name, "default", override)
                else:
                    ontology.split_policy(name, "default", override)
            except (OntologyError, KeyError) as err:
                problems.append((where, str(err)))
    problems += _demo_film_sizes(settings)
    fine, pre = settings.finetuning, settings.pretraining
    sizes = list(settings.ingestion.sizes)
    ssl = settings.selfsupervised
    if SSL_INIT in fine.inits:
        if ssl.sources == [] and not ssl.folders:
            problems.append((("selfsupervised", "sources"), "no images to pretrain on: name sources (null: every "
                             "enabled source) or folders of unlabeled images"))
        for i, name in enumerate(ssl.sources or []):
            if name not in sources:
                problems.append((("selfsupervised", "sources", str(i)), f"{name!r} is not an enabled source "
                                 f"({', '.join(sources)}); the self-supervised stage reads its training images"))
        probe = ssl.probe.source
        if ssl.probe.enabled and probe is not None and probe not in sources:
            problems.append((("selfsupervised", "probe", "source"), f"{probe!r} is not an enabled source "
                             f"({', '.join(sources)}); the probe needs a labelled source, or set probe.enabled: false"))
    for block, cell in (("finetuning", fine), ("pretraining", pre), ("selfsupervised", ssl)):
        if cell.store_size is not None and cell.store_size not in sizes:
            problems.append(((block, "store_size"), f"no pixel store of {cell.store_size} px: ingestion.sizes is "
                             f"{sizes}; use one of them, or add {cell.store_size} to ingestion.sizes and run the "
                             "ingestion pipeline again"))
    for name in sources:
        if name in ontology.sources:
            problems += _label_set(ontology, fine.label_set, name, ("finetuning", "label_set"))
    if PRETRAINED_INIT in fine.inits:
        if pre.source not in sources:
            problems.append((("finetuning", "inits"), f"{PRETRAINED_INIT!r} fine-tunes from an initialization "
                             f"pretrained on the source {pre.source!r} (pretraining.source), which is not an enabled "
                             f"source: enable it under sources, or take {PRETRAINED_INIT!r} out of finetuning.inits"))
        else:
            for target in (s for s in sources if settings.is_mimic_target(s) and s in ontology.sources):
                problems += _label_set(ontology, fine.mimic_label_set, target, ("finetuning", "mimic_label_set"))
                if pre.source in ontology.sources:
                    problems += _label_set(ontology, f"{pre.label_set}/{target}", pre.source,
                                           ("pretraining", "label_set"))
    return problems


def _demo_film_sizes(settings: ProjectSettings) -> list[tuple[tuple[str, ...], str]]:
    """A ``demo.render_scale`` that makes a writer's smallest films smaller than ingestion accepts
    (``ingestion.recipe.min_side``) would quarantine them all as ``implausible_size``."""
    demo = settings.demo
    if not demo.enabled:
        return []
    from cxrinit.demo.writers import WRITERS

    min_side, problems = settings.ingestion.recipe.min_side, []
    for name in demo.sources:
        profile = WRITERS[name].PROFILE
        smallest = min(profile.height[0], profile.width[0])
        if max(16, round(smallest * demo.render_scale)) < min_side:
            lowest = min_side / smallest
            problems.append((("demo", "render_scale"), f"{demo.render_scale:g} renders {name}'s smallest films at "
                             f"{max(16, round(smallest * demo.render_scale))} px, below ingestion.recipe.min_side "
                             f"({min_side} px): every such film would be quarantined; use render_scale >= "
                             f"{lowest:.2f} (or lower ingestion.recipe.min_side)"))
    return problems


def _check_globals(raw: Mapping[str, Any], sources: Mapping[str, Any], origin: Origin | None) -> list[str]:
    """The globals' own keys; every ``raw_roots`` name must be a configured source (enabled or not)."""
    try:
        found = GlobalsSettings.model_validate({k: v for k, v in raw.items() if k in GlobalsSettings.model_fields})
    except ValidationError as err:
        return describe(err, GlobalsSettings, (), origin)
    problems = []
    for key in raw:
        # other globals are the user's own (for ${globals:...}); one spelled almost like ours is a typo
        if key not in GlobalsSettings.model_fields and (hint := _closest(key, GlobalsSettings.model_fields)):
            where = origin([key]) if origin else None
            problems.append(f"`{key}`" + (f" (from {where})" if where else "") + f": unknown global{hint}")
    for name in found.raw_roots:
        if name not in sources:
            where = origin(["raw_roots", name]) if origin else None
            problems.append(f"`raw_roots.{name}`" + (f" (from {where})" if where else "")
                            + f": not a source{_closest(name, sources)}; sources: {', '.join(sources)} "
                            "(a new dataset is also an entry under `sources`, docs/extending.md)")
    return problems


def _closest(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _label_set(ontology: Ontology, name: str, source: str, where: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    try:
        ontology.label_set(name, source)
    except OntologyError as err:
        return [(where, f"for source {source!r}: {err}")]
    return []


def validate_parameters(raw: Mapping[str, Any], *, origin: Origin | None = None, env: str | None = None,
                        globals_: Mapping[str, Any] | None = None,
                        globals_origin: Origin | None = None) -> tuple[ProjectSettings, Ontology]:
    """Validate the resolved parameters of a run (``labels`` included) and, when given, its globals;
    raises :class:`ConfigError`.

    Returns the settings and the label ontology. Every problem is reported at once, each with its
    key path, the file (or the command line) it came from and what to do.
    """
    raw = dict(raw)
    problems: list[str] = []

    def add(path: tuple[str, ...], message: str) -> None:
        where = origin(list(path)) if origin else None
        problems.append(f"`{'.'.join(path)}`" + (f" (from {where})" if where else "") + f": {message}")

    ontology = None
    if "labels" not in raw:
        add(("labels",), "the label ontology is missing: conf/base/labels.yml must hold it under `labels:`")
    else:
        try:
            ontology = ontology_from_dict(raw.pop("labels") or {}, origin="labels.yml")
        except OntologyError as err:  # key paths such as label_sets.study.nih[14]: the index is a key too
            path = [p for p in re.split(r"\.|\[(\d+)\]", err.key_path) if p]
            add(("labels", *path), str(err).split(": ", 1)[-1].removeprefix(err.key_path + ": "))
    settings = None
    try:
        settings = ProjectSettings.model_validate(raw)
    except ValidationError as err:
        problems += describe(err, ProjectSettings, (), origin)
    if settings is not None and ontology is not None:
        for path, message in cross_check(settings, ontology):
            add(path, message)
    if globals_ is not None:
        problems += _check_globals(globals_, dict(raw.get("sources") or {}), globals_origin)
    if problems or settings is None or ontology is None:
        raise ConfigError(problems, env=env)
    return settings, ontology


__all__ = ["PRETRAINED_INIT", "SSL_INIT", "ProjectSettings", "cross_check", "validate_parameters"]
