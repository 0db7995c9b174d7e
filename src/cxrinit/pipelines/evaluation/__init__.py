"""The ``evaluation`` pipeline: paired bootstrap statistics and the study's tables and figures."""

from cxrinit.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
