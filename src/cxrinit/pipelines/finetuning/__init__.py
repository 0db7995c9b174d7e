"""The ``finetuning`` pipeline: every (initialization, source) cell, tracked and registered in MLflow."""

from cxrinit.pipelines.finetuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
