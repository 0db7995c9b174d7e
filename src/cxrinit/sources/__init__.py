"""Native metadata readers: one module per format, each registering ``read`` with :func:`register_source`.

Every reader returns a :class:`SourceTable` (manifest, rejected rows, counts; schema in
:mod:`cxrinit.sources.base`); none opens an image file. Importing this package imports every
reader module in it, so a new format is one new module here (see docs/extending.md).
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import LABEL_PREFIX, MANIFEST_COLUMNS, REJECTED_COLUMNS, SourceFormatError, SourceTable
from .registry import FORMATS, Reader, SourceFormat, get_format, read_source, register_source, suggest
from .views import VIEWS

#: Modules of this package that hold shared helpers, not a format.
_HELPERS = frozenset({"base", "registry", "terms", "views"})

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _HELPERS and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FORMATS", "LABEL_PREFIX", "MANIFEST_COLUMNS", "REJECTED_COLUMNS", "VIEWS", "Reader", "SourceFormat",
           "SourceFormatError", "SourceTable", "get_format", "read_source", "register_source", "suggest"]
