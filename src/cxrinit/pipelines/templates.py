"""Pipeline templates: one per stage, instantiated per namespace (a source, a cell) the Kedro way.

A template is a :class:`~kedro.pipeline.Pipeline` whose datasets have short names (``manifest``,
``images``); :func:`instantiate` prefixes them with the namespace (``vindr.manifest``) and leaves the
parameters shared (``params:ingestion`` stays ``params:ingestion``). Per-namespace constants (the
source's name) are fixed with :func:`bind`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Pipeline


def bind(func: Callable[..., Any], **fixed: Any) -> Callable[..., Any]:
    """``func`` with ``fixed`` keyword arguments, keeping its name, docstring and type hints for Kedro."""
    return update_wrapper(partial(func, **fixed), func)


def instantiate(template: Pipeline, namespace: str, *, inputs: Mapping[str, str] | None = None,
                outputs: Mapping[str, str] | None = None) -> Pipeline:
    """``template`` in ``namespace``: datasets prefixed, except ``inputs``/``outputs`` (mapped as given)
    and parameters (shared by every namespace)."""
    parameters = {name for node in template.nodes for name in node.inputs if name.startswith("params:")}
    return Pipeline(template, namespace=namespace, inputs=dict(inputs or {}), outputs=dict(outputs or {}),
                    parameters=parameters)


__all__ = ["bind", "instantiate"]
