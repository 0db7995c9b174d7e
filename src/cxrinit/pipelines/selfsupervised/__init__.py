"""The ``selfsupervised`` pipeline: a DINO initialization pretrained on unlabeled radiographs, registered in MLflow."""

from cxrinit.pipelines.selfsupervised.pipeline import create_pipeline

__all__ = ["create_pipeline"]
