"""The registry of native metadata formats: each reader module registers its format once.

timm's ``register_model`` shape: a reader module decorates its ``read`` function with
:func:`register_source`, giving the format's name, its default view map, the folder layout a user
must point the root at, and whether a dataset of this format can be a target of the supervised
MIMIC-CXR initialization by default. Every other list of sources in the project derives from this
registry plus the configuration (``sources`` in conf/*/parameters_sources.yml names the datasets of
a study and the format each is read with).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import SourceTable
from .views import check_view_map

Reader = Callable[..., SourceTable]
#: Reader parameters that are not user options: the root, the view map and the dataset's name.
_NOT_OPTIONS = ("root", "view_map", "source")


class OptionError(ValueError):
    """A reader option's value cannot be used; ``key`` is its path below ``options`` (e.g. ``("columns", "paht")``)."""

    def __init__(self, key: tuple[str, ...], message: str) -> None:
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class SourceFormat:
    """One native format: ``read(root, *, view_map, source, **options) -> SourceTable`` and its defaults.

    ``view_map``: native view code -> canonical view (PA, AP, LATERAL, OTHER), used when the
    configuration gives none. ``layout``: one line describing the folder the root must point at
    (shown when a root is missing). ``mimic_target``: whether a dataset of this format gets a
    MIMIC-pretrained fine-tuning arm by default (the study: every public dataset but MIMIC itself).
    ``check_options``: raises ``ValueError`` for option values the reader would refuse, so a
    configuration is checked before anything reads (e.g. the ``folder`` format's column roles).
    """

    name: str
    read: Reader = field(repr=False)
    view_map: Mapping[str, str] = field(repr=False)
    layout: str
    mimic_target: bool = False
    check_options: Callable[[Mapping[str, Any]], None] | None = field(default=None, repr=False)

    @property
    def options(self) -> dict[str, Any]:
        """The reader's keyword options and their defaults (``labels_file``, ``folder``, ...)."""
        return {name: p.default for name, p in inspect.signature(self.read).parameters.items()
                if name not in _NOT_OPTIONS and p.kind is inspect.Parameter.KEYWORD_ONLY}


FORMATS: dict[str, SourceFormat] = {}


def register_source(name: str, *, view_map: Mapping[str, str], layout: str, mimic_target: bool = False,
                    check_options: Callable[[Mapping[str, Any]], None] | None = None) -> Callable[[Reader], Reader]:
    """Decorator registering ``read`` as the reader of format ``name``.

    Raises ``ValueError`` when ``name`` is already registered by another function, or when the
    view map targets something other than a canonical view.
    """
    def decorate(read: Reader) -> Reader:
        known = FORMATS.get(name)
        if known is not None and known.read is not read:
            raise ValueError(f"source format {name!r} is registered twice ({known.read.__module__} and "
                             f"{read.__module__}); give the new format another name")
        params = inspect.signature(read).parameters
        missing = [p for p in ("view_map", "source") if p not in params]
        if missing:
            raise TypeError(f"reader {read.__module__}.{read.__name__} must accept the keyword(s) {missing}")
        FORMATS[name] = SourceFormat(name, read, dict(check_view_map(view_map, name)), layout, mimic_target,
                                     check_options)
        return read

    return decorate


def suggest(name: str, known: list[str] | tuple[str, ...] | Mapping[str, Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_format(name: str) -> SourceFormat:
    """The registered format ``name``; ``ValueError`` naming the known formats (and the closest) otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown source format {name!r}{suggest(name, FORMATS)}; registered formats: "
                         f"{', '.join(sorted(FORMATS))}") from None


def read_source(format: str, root: str | Path, *, source: str | None = None,
                view_map: Mapping[str, str] | None = None, **options: Any) -> SourceTable:
    """Read the dataset under ``root`` with the reader of ``format``.

    ``source`` names the dataset in the manifest (default: the format's name); ``view_map``
    replaces the format's default view map; ``options`` go to the reader (``TypeError`` for an
    option the reader does not have, naming the closest one).
    """
    fmt = get_format(format)
    allowed = fmt.options
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise TypeError(f"source format {format!r}: unknown reader option {unknown[0]!r}"
                        f"{suggest(unknown[0], allowed)}; options: {', '.join(allowed) or 'none'}")
    return fmt.read(Path(root), view_map=view_map, source=source or format, **options)


__all__ = ["FORMATS", "OptionError", "Reader", "SourceFormat", "get_format", "read_source", "register_source", "suggest"]
