"""The base of every settings model, and the error that reports bad settings by key, origin and fix.

Settings are pydantic models: frozen, unknown keys forbidden, defaults declared once (on the model).
:class:`ConfigError` turns pydantic's errors into one line per problem: the full key path
(``evaluation.n_resamples``), where the value came from (a configuration file or ``--params``), what
is wrong and, for an unknown key, the closest valid one.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

#: Where a key path came from: ``origin(("evaluation", "n_resamples")) -> "conf/base/parameters_evaluation.yml"``.
Origin = Callable[[Sequence[str]], str | None]


class Settings(BaseModel):
    """A block of settings: immutable, every key known (a typo is an error, never ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def unknown_key(key: str, known: Iterable[str], within: Sequence[str] = ()) -> PydanticCustomError:
    """The error for an unknown ``key`` inside a free-form mapping (reader options, training options, ...).

    ``within`` is the path from the validated field to that mapping; ``within + key`` is appended to
    the error's location when it is reported.
    """
    known = sorted(str(k) for k in known)
    return PydanticCustomError("unknown_key", "unknown key{hint}; valid keys: {known}",
                               {"key": ".".join([*within, str(key)]), "hint": _hint(key, known),
                                "known": ", ".join(known) or "none"})


def error_at(within: Sequence[str], message: str) -> PydanticCustomError:
    """An error about the key ``within`` (a path below the validated field), reported at that key."""
    return PydanticCustomError("error_at", "{message}", {"key": ".".join(within), "message": message})


def unknown_value(value: Any, known: Iterable[str], what: str = "value") -> PydanticCustomError:
    """The error for a value that must name one of ``known`` (a format, an initialization, a preset)."""
    known = sorted(str(k) for k in known)
    return PydanticCustomError("unknown_value", "unknown {what} {value}{hint}; known: {known}",
                               {"what": what, "value": repr(value), "hint": _hint(str(value), known),
                                "known": ", ".join(known) or "none"})


def _hint(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _unwrap(tp: Any) -> Any:
    """``X | None``, ``Optional[X]`` and ``Annotated[X, ...]`` -> ``X`` (the first non-None member)."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or isinstance(tp, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = (models or members)[0]
        else:
            return tp


def known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """The valid keys of the mapping at ``loc`` inside ``model`` (None when it is not a settings model)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (dict, Mapping) and len(get_args(tp)) == 2:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (list, tuple, Sequence) and get_args(tp):
            tp = get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return None


class ConfigError(ValueError):
    """Settings that cannot be used; ``problems`` holds one message per key, the message lists them all."""

    def __init__(self, problems: Sequence[str], *, env: str | None = None) -> None:
        self.problems = list(problems)
        where = f" (environment {env!r})" if env else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid settings{where}; nothing has run:\n{lines}")

    @classmethod
    def from_validation(cls, error: ValidationError, model: type[BaseModel], prefix: Sequence[str] = (),
                        origin: Origin | None = None, env: str | None = None) -> ConfigError:
        """One problem per pydantic error, with key path, origin and (unknown keys) the closest valid key."""
        return cls(describe(error, model, prefix, origin), env=env)


def describe(error: ValidationError, model: type[BaseModel], prefix: Sequence[str] = (),
             origin: Origin | None = None) -> list[str]:
    """The problems of ``error`` as lines ``key.path (from <file>): what is wrong``."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not _is_union_tag(p)]
        context = item.get("ctx") or {}
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            known = known_keys(model, loc[:-1]) or []
            if not loc[:-1] and not prefix:  # the top level: labels.yml's `labels` is validated on its own
                known = [*known, *getattr(model, "OTHER_TOP_LEVEL_KEYS", ())]
            message = f"unknown key{_hint(str(loc[-1]), known)}; valid keys: {', '.join(known) or 'none'}"
            head, dot, rest = str(loc[-1]).partition(".")
            if dot and head in known:  # `finetuning.inits` as one key: a run config file (`-c`) does not split it
                message = (f"a dotted key as one name: nest it as `{head}: {{{rest.split('.')[0]}: ...}}` in a"
                           " `kedro run -c` file's `params` (dotted keys work in `--params` on the command line)")
        elif item["type"] in ("unknown_key", "error_at"):
            loc.append(context["key"])
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        path = ".".join([*prefix, *(str(p) for p in loc)])
        source = origin(path.split(".")) if origin and path else None
        problems.append(f"`{path or '<top level>'}`" + (f" (from {source})" if source else "") + f": {message}")
    return problems


def _is_union_tag(part: str | int) -> bool:
    """pydantic adds the tried member type to the location of union errors (``'str'``, ``'function-after[...]'``)."""
    return isinstance(part, str) and (part in {"str", "int", "float", "bool", "list[str]", "dict[str,any]"}
                                      or "[" in part and "]" in part and not part.startswith("["))


__all__ = ["ConfigError", "Origin", "Settings", "describe", "error_at", "known_keys", "unknown_key", "unknown_value"]
