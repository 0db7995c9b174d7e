"""``PixelStoreDataset``: a source's pixel store (one uint8 array per resolution + index) as a Kedro dataset.

Saving takes a :class:`StoreBuild` (what to decode, from where, how) and builds the store in the
dataset's own folder, so a killed run resumes where it stopped (see :mod:`cxrinit.imaging.store`).
Loading returns a :class:`StoreSet` giving each resolution's :class:`~cxrinit.imaging.PixelStore`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from cxrinit.imaging import PixelStore, Recipe, StoreMismatchError, build_store

log = logging.getLogger(__name__)


@dataclass
class StoreBuild:
    """A pixel store to build: ``items`` (image_id, path relative to ``root``) at ``sizes`` with ``recipe``."""

    items: pd.DataFrame = field(repr=False)
    root: Path
    sizes: tuple[int, ...]
    recipe: Recipe
    workers: int | None = None
    rebuild_on_change: bool = True


class StoreSet:
    """Every resolution of one built store: ``store_set[224]`` is the 224-px :class:`PixelStore`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.sizes = tuple(sorted(int(p.name) for p in self.path.iterdir() if p.is_dir() and p.name.isdigit()))
        if not self.sizes:
            raise DatasetError(f"{self.path}: no pixel store here yet; run the ingestion pipeline first")

    def __getitem__(self, size: int) -> PixelStore:
        if int(size) not in self.sizes:
            raise KeyError(f"{self.path} has sizes {list(self.sizes)}, not {size}; add {size} to ingestion.sizes "
                           "and rerun ingestion")
        return PixelStore(self.path / str(int(size)))

    @property
    def index(self) -> pd.DataFrame:
        """The store index (identical for every size)."""
        return self[self.sizes[0]].index

    def __repr__(self) -> str:
        return f"StoreSet({str(self.path)!r}, sizes={list(self.sizes)})"


class PixelStoreDataset(AbstractDataset[StoreBuild, StoreSet]):
    """The pixel store folder of one source (``data/03_primary/<source>/pixels``)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> StoreSet:
        if not self._path.is_dir():
            raise DatasetError(f"{self._path}: no pixel store here yet; run the ingestion pipeline first")
        return StoreSet(self._path)

    def save(self, data: StoreBuild) -> None:
        args = dict(items=data.items, root=data.root, out_dir=self._path, sizes=data.sizes, recipe=data.recipe,
                    workers=data.workers)
        try:
            build_store(**args)
        except StoreMismatchError as err:
            if not data.rebuild_on_change:
                raise
            if not err.differs:
                raise
            log.warning("pixel store %s was built from other inputs (%s changed): rebuilding it from scratch "
                        "(ingestion.rebuild_on_change: true; false keeps it and stops the run instead)",
                        self._path, ", ".join(err.differs))
            build_store(**args, overwrite=True)

    def _exists(self) -> bool:
        return self._path.is_dir() and any(self._path.iterdir())

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
