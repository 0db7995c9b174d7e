"""Backbones and initializations: registry, weights resolution, input contracts."""

from .build import build_model, describe
from .contract import InputContract
from .registry import BUILTIN_INITS, InitSpec, init_spec
from .weights import WeightsUnavailable, read_weights

__all__ = ["BUILTIN_INITS", "InitSpec", "InputContract", "WeightsUnavailable", "build_model", "describe",
           "init_spec", "read_weights"]
