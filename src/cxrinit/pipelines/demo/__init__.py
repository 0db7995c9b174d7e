"""The ``demo`` pipeline: synthetic versions of the six datasets in their native layouts."""

from cxrinit.pipelines.demo.pipeline import create_pipeline

__all__ = ["create_pipeline"]
