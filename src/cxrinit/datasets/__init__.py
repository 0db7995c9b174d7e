"""Kedro datasets of this project (glue: the only place besides pipelines and hooks that imports Kedro)."""

from cxrinit.datasets.source_root import SourceRoot

__all__ = ["SourceRoot"]
