"""Prediction with a trained, registered model: files -> the training transform -> probabilities + a per-file report.

MLflow is only touched by :mod:`cxrinit.inference.registry`. Names are imported lazily, so that
``cxrinit-predict --help`` and a worker process load neither torch nor MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "is_cell": "cells",
    "load_cell": "cells",
    "IMAGE_SUFFIXES": "files",
    "InputFile": "files",
    "Skipped": "files",
    "expand_inputs": "files",
    "LoadedModel": "model",
    "ModelNotFound": "model",
    "ModelSpec": "model",
    "ModelTagsError": "model",
    "REPORT_COLUMNS": "predict",
    "predict_files": "predict",
    "predict_inputs": "predict",
    "decode_files": "preprocess",
    "to_model_input": "preprocess",
    "describe_model": "registry",
    "load_model": "registry",
    "parse_model_ref": "registry",
    "resolve_tracking_uri": "registry",
    "preprocess_for_serving": "serving",
    "probabilities_from_response": "serving",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cells import is_cell, load_cell
    from .files import IMAGE_SUFFIXES, InputFile, Skipped, expand_inputs
    from .model import LoadedModel, ModelNotFound, ModelSpec, ModelTagsError
    from .predict import REPORT_COLUMNS, predict_files, predict_inputs
    from .preprocess import decode_files, to_model_input
    from .registry import describe_model, load_model, parse_model_ref, resolve_tracking_uri
    from .serving import preprocess_for_serving, probabilities_from_response
