"""``sources``: the datasets of a study, each read with a registered format (conf/*/parameters_sources.yml)."""

from __future__ import annotations

import re
import typing
from typing import Any, Literal

from pydantic import Field, field_validator

from .base import Settings, error_at, unknown_key, unknown_value

View = Literal["PA", "AP", "LATERAL", "OTHER"]
#: A dataset's name becomes a Kedro namespace, a catalog key and a folder name.
NAME = re.compile(r"[a-z][a-z0-9_]*")


class SourceSettings(Settings):
    """One dataset (``sources.<name>``).

    ``format``: the registered reader (``cxrinit.sources.FORMATS``; default: the dataset's own name).
    ``enabled``: false leaves the dataset out of every pipeline. ``mimic_target``: whether it gets a
    MIMIC-pretrained fine-tuning arm (default: its format's). ``view_map`` replaces the format's
    default map of native view codes; ``views``: canonical views to ingest (default:
    ``ingestion.views``); ``options``: keyword options of the reader (e.g. ``labels_file``).
    """

    format: str | None = None
    enabled: bool = True
    mimic_target: bool | None = None
    view_map: dict[str, View] | None = None
    views: list[View] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        from cxrinit.sources import FORMATS

        if value is not None and value not in FORMATS:
            raise unknown_value(value, FORMATS, "source format")
        return value


def _type_problem(value: Any, hint: Any) -> str | None:
    """What is wrong with an option value for the reader parameter's annotation ``hint`` (plain types,
    ``X | None`` and ``Literal``; containers are the format's ``check_options``), else None."""
    if hint is None or value is None and type(None) in typing.get_args(hint):
        return None
    if typing.get_origin(hint) is Literal:
        allowed = typing.get_args(hint)
        return None if value in allowed else f"use one of {', '.join(map(repr, allowed))}"
    members = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_args(hint) else [hint]
    for member in members:
        if typing.get_origin(member) is Literal:
            if value in typing.get_args(member):
                return None
        elif member in (bool, str, int, float):
            if isinstance(value, member) and not (member is int and isinstance(value, bool)):
                return None
            if member is float and isinstance(value, int) and not isinstance(value, bool):
                return None
        else:
            return None  # a container or another type: the format's check_options looks at it
    names = [m.__name__ if isinstance(m, type) else repr(m) for m in members]
    return f"expected {' or '.join(names)}"


def check_sources(sources: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
    """Names are namespaces; a format defaults to the name and must be registered; options must exist."""
    from cxrinit.sources import FORMATS

    for name, entry in sources.items():
        if not NAME.fullmatch(name):
            raise ValueError(f"source name {name!r}: use lower-case letters, digits and '_' (it becomes a "
                             "Kedro namespace and a folder name)")
        fmt = entry.format or name
        if fmt not in FORMATS:
            raise ValueError(f"source {name!r} has no format: {name!r} is not a registered format, so set "
                             f"sources.{name}.format to one of {', '.join(sorted(FORMATS))}")
        options = FORMATS[fmt].options
        hints = typing.get_type_hints(FORMATS[fmt].read)
        for key, value in entry.options.items():
            if key not in options:
                raise unknown_key(key, options, within=(name, "options"))
            problem = _type_problem(value, hints.get(key))
            if problem:
                raise error_at((name, "options", key), f"{value!r}: {problem} (the reader's default: "
                                                       f"{options[key]!r})")
        if FORMATS[fmt].check_options is not None:
            try:
                FORMATS[fmt].check_options(entry.options)
            except ValueError as err:  # an OptionError knows the option's own key
                raise error_at((name, "options", *getattr(err, "key", ())), str(err)) from None
    return sources


__all__ = ["NAME", "SourceSettings", "View", "check_sources"]
