"""Backbones and initializations: registry, weights resolution, input contracts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "build_model": "build",
    "describe": "build",
    "InputContract": "contract",
    "BUILTIN_INITS": "registry",
    "InitSpec": "registry",
    "init_spec": "registry",
    "WeightsUnavailable": "errors",
    "read_weights": "weights",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .build import build_model, describe
    from .contract import InputContract
    from .errors import WeightsUnavailable
    from .registry import BUILTIN_INITS, InitSpec, init_spec
    from .weights import read_weights
