"""The ``pretraining`` pipeline: supervised MIMIC-CXR initializations, registered in MLflow."""

from cxrinit.pipelines.pretraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
