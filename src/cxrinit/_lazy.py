"""Lazy package exports: ``from cxrinit.training import fit`` imports torch, ``import cxrinit.training`` does not.

Kedro imports every node module when it builds the pipelines, and ``cxrinit-predict --help`` should
answer at once, so packages whose members need torch, timm, scikit-learn or matplotlib export them
through :func:`lazy_exports` (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose names live in submodules: ``{name: submodule}``."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
