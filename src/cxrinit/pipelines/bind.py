"""Per-source (per-cell) node functions: one template function, its keyword arguments fixed."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any


def bind(func: Callable[..., Any], **fixed: Any) -> Callable[..., Any]:
    """``func`` with ``fixed`` keyword arguments, keeping its name and docstring for Kedro and kedro-viz."""
    return update_wrapper(partial(func, **fixed), func)
