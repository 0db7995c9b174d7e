"""``SourceRoot``: a dataset's native download folder as a Kedro dataset.

Loading returns the folder's :class:`~pathlib.Path` after checking that it exists, so every
stage downstream of ``<source>.raw`` fails early with one clear message when a root is not set.
Saving is only allowed where the catalog says ``writable: true`` (the demo environment): the
object saved must have ``write_to(folder)``; it is written into a sibling temporary folder that
replaces the root only when complete, so an interrupted demo never looks finished.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class SourceRoot(AbstractDataset[Any, Path]):
    """The root folder of one source's native files (``roots[source]``)."""

    def __init__(self, source: str, roots: dict[str, str | None] | None = None, writable: bool = False,
                 metadata: dict[str, Any] | None = None) -> None:
        self._source = source
        self._roots = dict(roots or {})
        self._writable = writable
        self.metadata = metadata

    @property
    def path(self) -> Path | None:
        root = self._roots.get(self._source)
        return Path(root) if root else None

    def _missing_message(self, what: str) -> str:
        from cxrinit.sources import FORMATS

        fmt = FORMATS.get(self._source)
        layout = fmt.layout if fmt else "the native files of its format (docs/datasets.md)"
        return (f"source {self._source!r}: {what}. Expected a folder holding {layout}. "
                f"Set raw_roots.{self._source} in conf/local/globals.yml (see conf/local/globals.example.yml), "
                f"set sources.{self._source}.enabled: false in conf/local/parameters_sources.yml to leave it out, "
                f"or run only the sources you have: kedro run --namespaces <source>.")

    def load(self) -> Path:
        root = self.path
        if root is None:
            raise DatasetError(self._missing_message("no data root is configured"))
        if not root.is_dir():
            raise DatasetError(self._missing_message(f"data root {root} does not exist"))
        return root

    def save(self, data: Any) -> None:
        root = self.path
        if root is None:
            raise DatasetError(self._missing_message("no data root is configured to write to"))
        if not self._writable:
            raise DatasetError(f"source {self._source!r}: refusing to write into {root}: this root is read-only "
                               "(real data). Only the demo environment writes roots (writable: true).")
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        data.write_to(partial)
        old = root.with_name(root.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if root.exists():
            root.rename(old)
        partial.rename(root)
        shutil.rmtree(old, ignore_errors=True)

    def _exists(self) -> bool:
        root = self.path
        return root is not None and root.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source, "path": str(self.path), "writable": self._writable}
