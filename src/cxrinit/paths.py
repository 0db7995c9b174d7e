"""Paths written into state (checkpoints, cards, summaries, tracking records) stay portable.

A project is cloned, copied, moved and ``dvc pull``-ed to other folders; a path recorded as
``/home/a/cxrinit/data/...`` breaks all of them. :func:`portable` records a path under the project
relative to it; a path outside the project (a weights file the user keeps elsewhere) is the user's
own and stays as given.
"""

from __future__ import annotations

import os
from pathlib import Path


def portable(path: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> str:
    """``path`` relative to ``base`` (default: the working directory, the project root for every
    ``kedro run``) when it lies inside it, as a POSIX string; otherwise ``path`` unchanged."""
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    root = Path(base) if base is not None else Path.cwd()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


__all__ = ["portable"]
