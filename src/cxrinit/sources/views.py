"""Native view codes -> canonical views (PA, AP, LATERAL, OTHER).

A view map is a plain dict ``native code -> canonical view``. Keys are matched exactly (after
stripping) first, then as glob patterns (``*``, ``?``, ``[...]``) in the map's order; the key ``""``
matches a blank or absent code. A code no key matches is not guessed: the reader rejects the image
as ``unknown_view``. Each reader module declares its format's default map (``VIEW_MAP``, registered
with the format); a ``view_map`` passed to a reader (``sources.<name>.view_map`` in the
configuration) replaces it entirely.

Codes per source (``view_native`` in the manifest):
- vindr, uka: the metadata has no view (VinDr's DICOM ViewPosition is the pixel stage's business),
  so the code is blank and the default maps it to PA (VinDr) / AP (UKA, bedside ICU films).
- chexpert: ``Frontal|AP``, ``Frontal|PA``, ``Frontal|LL``…, ``Frontal`` (AP/PA blank), ``Lateral``.
- nih: ``View Position`` (PA, AP); mimic: ``ViewPosition``; padchest: ``Projection``;
  folder: the user's view column.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

import numpy as np
import pandas as pd

VIEWS: tuple[str, ...] = ("PA", "AP", "LATERAL", "OTHER")


def check_view_map(view_map: Mapping[str, str], source: str) -> dict[str, str]:
    """A copy of ``view_map`` after checking every target is a canonical view."""
    bad = {k: v for k, v in view_map.items() if v not in VIEWS}
    if bad:
        raise ValueError(f"view map for {source!r}: targets must be one of {', '.join(VIEWS)}; "
                         f"got {bad}. Fix the view map in the configuration.")
    return {str(k).strip(): v for k, v in view_map.items()}


def _resolve(code: str, view_map: Mapping[str, str], patterns: list[str]) -> str | None:
    if code in view_map:
        return view_map[code]
    for pattern in patterns:
        if fnmatch.fnmatchcase(code, pattern):
            return view_map[pattern]
    return None


def apply_view_map(native: pd.Series, view_map: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
    """(canonical view, unknown mask) for the native codes; NA codes count as ``""``."""
    patterns = [k for k in view_map if any(ch in k for ch in "*?[")]
    codes = native.fillna("").astype(str).str.strip()
    uniques = codes.unique()
    resolved = {u: _resolve(u, view_map, patterns) for u in uniques}
    view = codes.map(resolved)
    unknown = view.isna()
    return view.astype("str"), pd.Series(np.asarray(unknown, dtype=bool), index=native.index)
