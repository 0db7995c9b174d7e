"""The ``harmonization`` pipeline: label matrices, patient-wise splits and label reports per source."""

from cxrinit.pipelines.harmonization.pipeline import create_pipeline

__all__ = ["create_pipeline"]
