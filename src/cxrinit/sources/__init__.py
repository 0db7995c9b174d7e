"""Native metadata readers: one module per dataset, each ``read(root, *, view_map=None, **options)``.

Every reader returns a :class:`SourceTable` (manifest, rejected rows, counts; schema in
:mod:`cxrinit.sources.base`); none opens an image file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import chexpert, folder, mimic, nih, padchest, uka, vindr
from .base import LABEL_PREFIX, MANIFEST_COLUMNS, REJECTED_COLUMNS, SourceFormatError, SourceTable
from .views import DEFAULT_VIEW_MAPS, VIEWS

Reader = Callable[..., SourceTable]

SOURCES: dict[str, Reader] = {
    "vindr": vindr.read,
    "nih": nih.read,
    "chexpert": chexpert.read,
    "mimic": mimic.read,
    "uka": uka.read,
    "padchest": padchest.read,
    "folder": folder.read,
}


def read_source(name: str, root: str | Path, **kw: Any) -> SourceTable:
    """Read source ``name`` under ``root``; ``kw`` goes to its reader (``view_map`` and options)."""
    try:
        reader = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None
    return reader(Path(root), **kw)


__all__ = ["DEFAULT_VIEW_MAPS", "LABEL_PREFIX", "MANIFEST_COLUMNS", "REJECTED_COLUMNS", "SOURCES", "VIEWS",
           "Reader", "SourceFormatError", "SourceTable", "read_source"]
