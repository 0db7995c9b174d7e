"""The label ontology (conf/base/labels.yml): canonical findings, per-source feeds, label sets,
policies, split settings and presets, validated once at load time.

Any unknown source, finding, kind, option or value fails with an :class:`OntologyError` naming its
YAML key path (``sources.padchest.findings.nodule_mas``), so a typo never silently drops a label.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import OntologyError
from .policies import KINDS, validate_policy

TOP_KEYS: tuple[str, ...] = ("version", "findings", "sources", "label_sets", "policies", "splits", "presets")
SPLIT_OPTIONS: tuple[str, ...] = ("use_official", "test_fraction", "val_fraction")
DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class Feed:
    """The native labels feeding one finding in one source (``substrings``: terms kind only)."""

    natives: tuple[str, ...]
    substrings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    """One source: its kind of native labels, what feeds each canonical finding, and (terms kind) the
    native terms deliberately fed to no finding, each with its reason."""

    name: str
    kind: str
    findings: dict[str, Feed]
    binary: tuple[str, ...] = ()
    unmapped: dict[str, str] = field(default_factory=dict)

    @property
    def natives(self) -> set[str]:
        return {n for feed in self.findings.values() for n in feed.natives}


@dataclass(frozen=True)
class Ontology:
    """The validated contents of labels.yml."""

    findings: dict[str, str]
    sources: dict[str, SourceSpec]
    label_sets: dict[str, list[str] | dict[str, list[str]]]
    policies: dict[str, dict[str, Any]]
    splits: dict[str, dict[str, Any]]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: str = "labels.yml"

    def source(self, name: str) -> SourceSpec:
        try:
            return self.sources[name]
        except KeyError:
            raise OntologyError(f"sources.{name}", "unknown source", origin=self.origin,
                                fix=f"known sources: {', '.join(self.sources)}; add an entry to labels.yml") from None

    def _preset(self, preset: str) -> dict[str, Any]:
        if preset == DEFAULT_PRESET:
            return self.presets.get(DEFAULT_PRESET, {})
        try:
            return self.presets[preset]
        except KeyError:
            raise OntologyError(f"presets.{preset}", "unknown preset", origin=self.origin,
                                fix=f"known presets: {', '.join(sorted({DEFAULT_PRESET, *self.presets}))}") from None

    def policy(self, source: str, preset: str = DEFAULT_PRESET,
               overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The harmonization policy of ``source``: defaults, then the preset, then ``overrides``."""
        spec = self.source(source)
        out = copy.deepcopy(self.policies[source])
        out.update(copy.deepcopy(self._preset(preset).get("policies", {}).get(source, {})))
        if overrides:
            out.update(validate_policy(spec.kind, overrides, key_path=f"overrides[{source}]", natives=spec.natives,
                                       complete=False, origin="harmonize_labels"))
        return out

    def split_policy(self, source: str, preset: str = DEFAULT_PRESET,
                     overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``use_official``, ``test_fraction``, ``val_fraction`` for ``source`` (keyword arguments of make_splits)."""
        self.source(source)
        out = dict(self.splits[source])
        out.update(self._preset(preset).get("splits", {}).get(source, {}))
        if overrides:
            out.update(_validate_split(overrides, f"overrides[{source}]", "make_splits", complete=False))
        return out

    def label_set(self, name: str | Sequence[str], source: str) -> list[str]:
        """Findings of a label set for ``source``.

        ``name``: a set name (``study``, ``mimic_shared``, ``common``, ...), ``<set>/<other source>``
        to take another source's entry (MIMIC trained for a target: ``mimic_shared/vindr``),
        ``all`` (every finding the source feeds), or an explicit list of findings.
        """
        self.source(source)
        if not isinstance(name, str):
            findings = list(name)
            unknown = [f for f in findings if f not in self.findings]
            if unknown:
                raise OntologyError("label_set", f"unknown finding(s) {unknown}", origin="harmonize_labels",
                                    fix=f"use findings declared under findings: in {self.origin}")
            return findings
        if name == "all":
            return list(self.sources[source].findings)
        set_name, _, entry = name.partition("/")
        entry = entry or source
        if set_name not in self.label_sets:
            raise OntologyError(f"label_sets.{set_name}", "unknown label set", origin=self.origin,
                                fix=f"known sets: {', '.join(self.label_sets)}, all, or a list of findings")
        chosen = self.label_sets[set_name]
        if isinstance(chosen, list):
            return list(chosen)
        if entry not in chosen:
            raise OntologyError(f"label_sets.{set_name}.{entry}", "no entry for this source", origin=self.origin,
                                fix=f"entries: {', '.join(chosen)}; add one or pick another set")
        return list(chosen[entry])


def _mapping(value: Any, key_path: str, origin: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise OntologyError(key_path, f"expected a mapping, got {type(value).__name__}", origin=origin)
    return dict(value)


def _strings(value: Any, key_path: str, origin: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise OntologyError(key_path, f"expected a non-empty list of names, got {value!r}", origin=origin)
    bad = [v for v in value if not isinstance(v, str) or not v.strip()]
    if bad:
        raise OntologyError(key_path, f"names must be non-empty strings, got {bad!r}", origin=origin)
    return tuple(value)


def _validate_split(value: Any, key_path: str, origin: str, *, complete: bool) -> dict[str, Any]:
    value = _mapping(value, key_path, origin)
    for key, v in value.items():
        where = f"{key_path}.{key}"
        if key not in SPLIT_OPTIONS:
            raise OntologyError(where, "unknown split option", origin=origin, fix=f"options: {', '.join(SPLIT_OPTIONS)}")
        if key == "use_official" and not isinstance(v, bool):
            raise OntologyError(where, f"expected true or false, got {v!r}", origin=origin)
        if key != "use_official" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1):
            raise OntologyError(where, f"expected a fraction in [0, 1), got {v!r}", origin=origin)
    if complete:
        missing = [k for k in SPLIT_OPTIONS if k not in value]
        if missing:
            raise OntologyError(key_path, f"missing split option(s) {', '.join(missing)}", origin=origin)
    return value


def _parse_source(name: str, raw: Any, findings: Mapping[str, str], origin: str) -> SourceSpec:
    key = f"sources.{name}"
    raw = _mapping(raw, key, origin)
    unknown = set(raw) - {"kind", "findings", "binary", "unmapped"}
    if unknown:
        raise OntologyError(f"{key}.{sorted(unknown)[0]}", "unknown key", origin=origin,
                            fix="a source has kind, findings, (grades kind) binary and (terms kind) unmapped")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise OntologyError(f"{key}.kind", f"unknown kind {kind!r}", origin=origin, fix=f"use one of {', '.join(KINDS)}")
    feeds: dict[str, Feed] = {}
    for finding, feed in _mapping(raw.get("findings"), f"{key}.findings", origin).items():
        where = f"{key}.findings.{finding}"
        if finding not in findings:
            raise OntologyError(where, f"unknown finding{_did_you_mean(finding, findings)}", origin=origin,
                                fix="declare it under findings: or fix the spelling")
        if isinstance(feed, Mapping):
            if kind != "terms":
                raise OntologyError(where, "terms/substrings mappings are for kind terms only", origin=origin,
                                    fix="give a list of native labels")
            extra = set(feed) - {"terms", "substrings"}
            if extra:
                raise OntologyError(f"{where}.{sorted(extra)[0]}", "unknown key", origin=origin,
                                    fix="use terms and substrings")
            natives = _strings(feed.get("terms"), f"{where}.terms", origin)
            subs = _strings(feed["substrings"], f"{where}.substrings", origin) if "substrings" in feed else natives
            feeds[finding] = Feed(natives, subs)
        else:
            natives = _strings(feed, where, origin)
            feeds[finding] = Feed(natives, natives if kind == "terms" else ())
    binary = ()
    if "binary" in raw:
        if kind != "grades":
            raise OntologyError(f"{key}.binary", "binary columns are for kind grades only", origin=origin)
        binary = _strings(raw["binary"], f"{key}.binary", origin)
    unmapped: dict[str, str] = {}
    if "unmapped" in raw:
        if kind != "terms":
            raise OntologyError(f"{key}.unmapped", "unmapped terms are for kind terms only", origin=origin)
        for term, reason in _mapping(raw["unmapped"], f"{key}.unmapped", origin).items():
            if not isinstance(reason, str) or not reason.strip():
                raise OntologyError(f"{key}.unmapped.{term}", "give the reason the term feeds no finding",
                                    origin=origin)
            unmapped[str(term)] = reason
        fed = {n.casefold() for feed in feeds.values() for n in feed.natives}
        both = sorted(t for t in unmapped if t.casefold() in fed)
        if both:
            raise OntologyError(f"{key}.unmapped.{both[0]}", "the term also feeds a finding", origin=origin,
                                fix="a term is either mapped or listed as unmapped")
    return SourceSpec(name, kind, feeds, binary, unmapped)


def _check_findings(value: Any, key_path: str, findings: Mapping[str, str], origin: str) -> list[str]:
    names = list(_strings(value, key_path, origin))
    for i, name in enumerate(names):
        if name not in findings:
            raise OntologyError(f"{key_path}[{i}]", f"unknown finding {name!r}{_did_you_mean(name, findings)}",
                                origin=origin, fix="declare it under findings: or fix the spelling")
    if len(set(names)) < len(names):
        raise OntologyError(key_path, "a finding is listed twice", origin=origin)
    return names


def ontology_from_dict(data: Mapping[str, Any], origin: str = "labels.yml") -> Ontology:
    """Validate a parsed labels.yml (e.g. from Kedro's config loader) into an :class:`Ontology`."""
    data = _mapping(data, "<top level>", origin)
    for key in data:
        if key not in TOP_KEYS:
            raise OntologyError(str(key), "unknown top-level key", origin=origin, fix=f"known keys: {', '.join(TOP_KEYS)}")
    for key in TOP_KEYS[1:5]:
        if key not in data:
            raise OntologyError(key, "missing section", origin=origin)
    findings = {str(k): str(v) for k, v in _mapping(data["findings"], "findings", origin).items()}
    sources = {name: _parse_source(name, raw, findings, origin)
               for name, raw in _mapping(data["sources"], "sources", origin).items()}

    def known_source(name: str, key_path: str) -> None:
        if name not in sources:
            raise OntologyError(key_path, f"unknown source {name!r}", origin=origin,
                                fix=f"known sources: {', '.join(sources)}")

    label_sets: dict[str, list[str] | dict[str, list[str]]] = {}
    for set_name, value in _mapping(data["label_sets"], "label_sets", origin).items():
        if set_name == "all" or "/" in set_name:
            raise OntologyError(f"label_sets.{set_name}", "reserved name", origin=origin,
                                fix="'all' and names with '/' are reserved")
        if isinstance(value, Mapping):
            per: dict[str, list[str]] = {}
            for src, names in value.items():
                known_source(src, f"label_sets.{set_name}.{src}")
                per[src] = _check_findings(names, f"label_sets.{set_name}.{src}", findings, origin)
            label_sets[set_name] = per
        else:
            label_sets[set_name] = _check_findings(value, f"label_sets.{set_name}", findings, origin)

    policies: dict[str, dict[str, Any]] = {}
    raw_policies = _mapping(data["policies"], "policies", origin)
    for src, value in raw_policies.items():
        known_source(src, f"policies.{src}")
    for src, spec in sources.items():
        if src not in raw_policies:
            raise OntologyError(f"policies.{src}", "missing policy for this source", origin=origin)
        policies[src] = validate_policy(spec.kind, raw_policies[src], key_path=f"policies.{src}",
                                        natives=spec.natives | set(spec.binary), complete=True, origin=origin)

    splits: dict[str, dict[str, Any]] = {}
    raw_splits = _mapping(data.get("splits", {}), "splits", origin)
    for src in raw_splits:
        known_source(src, f"splits.{src}")
    for src in sources:
        if src not in raw_splits:
            raise OntologyError(f"splits.{src}", "missing split settings for this source", origin=origin)
        splits[src] = _validate_split(raw_splits[src], f"splits.{src}", origin, complete=True)

    presets: dict[str, dict[str, Any]] = {}
    for preset, value in _mapping(data.get("presets") or {}, "presets", origin).items():
        value = _mapping(value or {}, f"presets.{preset}", origin)
        out: dict[str, Any] = {"policies": {}, "splits": {}}
        for key, per_source in value.items():
            if key not in ("policies", "splits"):
                raise OntologyError(f"presets.{preset}.{key}", "unknown key", origin=origin,
                                    fix="a preset has policies and/or splits")
            for src, diff in _mapping(per_source, f"presets.{preset}.{key}", origin).items():
                where = f"presets.{preset}.{key}.{src}"
                known_source(src, where)
                if key == "policies":
                    spec = sources[src]
                    out[key][src] = validate_policy(spec.kind, diff, key_path=where, complete=False, origin=origin,
                                                    natives=spec.natives | set(spec.binary))
                else:
                    out[key][src] = _validate_split(diff, where, origin, complete=False)
        presets[preset] = out
    return Ontology(findings, sources, label_sets, policies, splits, presets, origin)


def load_ontology(path: str | Path) -> Ontology:
    """Read and validate labels.yml at ``path`` (the ontology under its top-level ``labels:`` key, as in
    conf/base/labels.yml, or at the top level)."""
    path = Path(path)
    if not path.is_file():
        raise OntologyError("<file>", f"{path} not found", origin=str(path),
                            fix="pass the path of conf/base/labels.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise OntologyError("<file>", f"not valid YAML ({exc})", origin=str(path)) from None
    if isinstance(data, Mapping) and set(data) == {"labels"}:
        data = data["labels"]
    return ontology_from_dict(data or {}, origin=str(path))


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""
