"""Prediction with a trained, registered model: files -> the training transform -> probabilities + a per-file report.

MLflow is only touched by :mod:`cxrinit.inference.registry` (imported lazily); the rest is plain domain code.
"""

from .files import IMAGE_SUFFIXES, InputFile, Skipped, expand_inputs
from .model import LoadedModel, ModelNotFound, ModelSpec, ModelTagsError
from .predict import REPORT_COLUMNS, predict_files, predict_inputs
from .preprocess import decode_files, to_model_input
from .registry import describe_model, load_model, parse_model_ref, resolve_tracking_uri
from .serving import preprocess_for_serving, probabilities_from_response

__all__ = ["IMAGE_SUFFIXES", "REPORT_COLUMNS", "InputFile", "LoadedModel", "ModelNotFound", "ModelSpec",
           "ModelTagsError", "Skipped", "decode_files", "describe_model", "expand_inputs", "load_model",
           "parse_model_ref", "predict_files", "predict_inputs", "preprocess_for_serving",
           "probabilities_from_response", "resolve_tracking_uri", "to_model_input"]
