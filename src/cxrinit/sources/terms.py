"""Term-set label cells (NIH ``Finding Labels``, PadChest ``Labels``) -> ``terms`` + quality notes.

``terms`` is the cell's terms, stripped, empties dropped, in source order, joined by ``|`` (so
both exact and substring matching stay possible); NA when the cell is missing (blank or a
missing-value marker such as ``nan``, :data:`~cxrinit.sources.base.MISSING_MARKERS`), ``""`` when the
cell is an empty list. ``label_quality`` is NA for a clean cell, else ``;``-joined notes:
``missing``, ``stray_spaces`` (a term or the cell had leading/trailing spaces), ``empty_terms``,
``empty_list``, ``duplicate_terms``, ``pipe_in_term`` (a ``|`` inside a term, replaced by ``/``),
``unparsed_list`` (not a Python literal list; split on commas instead), ``not_a_list``.
Each distinct cell is parsed once (real PadChest repeats its label strings a lot).
"""

from __future__ import annotations

import ast
import logging
import re
import time
from collections import Counter
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .base import MISSING_MARKERS

log = logging.getLogger(__name__)

Style = Literal["pipe", "pylist"]


# The shape nearly every PadChest cell has: single-quoted terms without escapes. Matching it with a
# regex gives what literal_eval would, ~20x faster; anything else goes through literal_eval.
_SIMPLE_LIST = re.compile(r"\[\s*(?:'[^'\\\n]*'\s*(?:,\s*'[^'\\\n]*'\s*)*)?\]")
_SIMPLE_TERM = re.compile(r"'([^'\\\n]*)'")


def _split_pylist(cell: str, notes: list[str]) -> list[str]:
    text = cell.strip()
    if _SIMPLE_LIST.fullmatch(text):
        terms = _SIMPLE_TERM.findall(text)
        if not terms:
            notes.append("empty_list")
        return terms
    try:
        # literal_eval only builds literals: never code execution on a metadata string.
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        value = None
        notes.append("unparsed_list")
    else:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            if not value:
                notes.append("empty_list")
            return list(value)
        notes.append("not_a_list")
    inner = text.removeprefix("[").removesuffix("]")
    if not inner.strip():
        return []
    return [part.strip().strip("'\"") for part in inner.split(",")]


def parse_cell(cell: str | None, style: Style) -> tuple[str | None, str | None]:
    """(terms, notes) for one cell; see the module docstring."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip().casefold() in MISSING_MARKERS:
        return None, "missing"
    notes: list[str] = []
    if cell != cell.strip():
        notes.append("stray_spaces")
    raw_terms = cell.split("|") if style == "pipe" else _split_pylist(cell, notes)
    terms = []
    for term in raw_terms:
        stripped = term.strip()
        if stripped != term and "stray_spaces" not in notes:
            notes.append("stray_spaces")
        if not stripped:
            if "empty_terms" not in notes:
                notes.append("empty_terms")
            continue
        if "|" in stripped:
            stripped = stripped.replace("|", "/")
            if "pipe_in_term" not in notes:
                notes.append("pipe_in_term")
        terms.append(stripped)
    if len(set(terms)) < len(terms):
        notes.append("duplicate_terms")
    return "|".join(terms), (";".join(notes) or None)


def parse_terms(cells: pd.Series, style: Style) -> tuple[pd.Series, pd.Series, Counter[str]]:
    """(terms, label_quality, note counts over rows) for a column of raw cells."""
    started = time.perf_counter()
    codes, uniques = pd.factorize(cells.to_numpy(dtype=object), use_na_sentinel=True)
    parsed = [parse_cell(u, style) for u in tqdm(uniques, desc="term cells", unit="cell", disable=None,
                                                 mininterval=1.0, leave=False)]
    parsed.append((None, "missing"))  # code -1 (NA cell) lands here
    terms_u = np.array([p[0] for p in parsed], dtype=object)
    notes_u = np.array([p[1] for p in parsed], dtype=object)
    terms = pd.Series(terms_u[codes], index=cells.index).astype("str")
    quality = pd.Series(notes_u[codes], index=cells.index).astype("str")
    note_counts: Counter[str] = Counter()
    for note, n in quality.dropna().value_counts().items():
        for part in str(note).split(";"):
            note_counts[part] += int(n)
    log.info("parsed %d term cells (%d distinct) in %.2f s", len(cells), len(uniques),
             time.perf_counter() - started)
    return terms, quality, note_counts
