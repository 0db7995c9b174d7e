"""Where a setting came from: ``--params`` or which configuration file of which environment."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

#: The file patterns Kedro reads parameters from (settings.py adds ``labels*``), per environment folder.
PARAMETER_PATTERNS = ("parameters*", "parameters*/**", "**/parameters*", "labels*")
_MISSING = object()


class ConfigOrigins:
    """Finds the file (or ``--params``) that set a key path, the environment's file before base's.

    ``conf_source``: the project's conf/ folder; ``env``: the run's environment (None: ``local``).
    Paths are reported relative to ``relative_to`` (the project root) when inside it.
    """

    def __init__(self, conf_source: str | Path, env: str | None, runtime_params: Mapping[str, Any] | None = None,
                 *, base_env: str = "base", relative_to: str | Path | None = None,
                 patterns: tuple[str, ...] = PARAMETER_PATTERNS) -> None:
        self.conf_source = Path(conf_source)
        self.envs = [e for e in (env or "local", base_env) if e]
        self.runtime_params = dict(runtime_params or {})
        self.relative_to = Path(relative_to) if relative_to else self.conf_source.parent
        self.patterns = patterns

    @cached_property
    def _files(self) -> list[tuple[Path, Any]]:
        found = []
        for env in self.envs:
            folder = self.conf_source / env
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(folder).as_posix()
                if path.suffix in (".yml", ".yaml", ".json") and any(fnmatch.fnmatch(rel, p)
                                                                     for p in self.patterns):
                    try:
                        found.append((path, yaml.safe_load(path.read_text()) or {}))
                    except (OSError, yaml.YAMLError):
                        continue
        return found

    def __call__(self, path: Sequence[str]) -> str | None:
        """Where the key ``path`` is set: the command line (``--params`` or a ``-c`` run file), the
        environment's file, else base's; None when no file sets it (a missing key, a default)."""
        if _lookup(self.runtime_params, path) is not _MISSING:
            return "--params or -c"
        for file, data in self._files:
            if _lookup(data, path) is not _MISSING:
                return self._show(file)
        return None

    def for_globals(self) -> ConfigOrigins:
        """The same environment's origins of global keys (conf/*/globals*.yml)."""
        return ConfigOrigins(self.conf_source, self.envs[0], base_env=self.envs[-1], relative_to=self.relative_to,
                             patterns=("globals*", "globals*/**", "**/globals*"))

    def _show(self, file: Path) -> str:
        try:
            return file.resolve().relative_to(self.relative_to.resolve()).as_posix()
        except ValueError:
            return str(file)


def _lookup(data: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` (nested mappings, or dotted keys), else ``_MISSING``."""
    if not path:
        return data
    if isinstance(data, list) and str(path[0]).isdigit():  # views.0, label_sets.study.nih.14
        index = int(path[0])
        return _lookup(data[index], path[1:]) if index < len(data) else _MISSING
    if not isinstance(data, Mapping):
        return _MISSING
    for i in range(len(path), 0, -1):
        key = ".".join(path[:i])
        if key in data:
            found = _lookup(data[key], path[i:])
            if found is not _MISSING:
                return found
    return _MISSING


__all__ = ["PARAMETER_PATTERNS", "ConfigOrigins"]
