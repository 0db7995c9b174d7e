"""The ``ingestion`` pipeline: native downloads -> manifest, pixel store and ingestion report per source."""

from cxrinit.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
