"""Kedro datasets of this project (glue: the only place besides pipelines and hooks that imports Kedro)."""

from cxrinit.datasets.optional import OptionalDataset
from cxrinit.datasets.pixel_store import PixelStoreDataset, StoreBuild, StoreSet
from cxrinit.datasets.source_root import SourceRoot
from cxrinit.datasets.tracking_config import TrackingConfigDataset

__all__ = ["OptionalDataset", "PixelStoreDataset", "SourceRoot", "StoreBuild", "StoreSet", "TrackingConfigDataset"]
