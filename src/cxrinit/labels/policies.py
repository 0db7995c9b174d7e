"""Harmonization policies: the options each kind of native label accepts, and the binarizers.

Every binarizer maps native values to float 1 / 0 / NaN (NaN = masked). Several native labels
feeding one finding are combined by :func:`union` (three-valued OR: 1 if any is 1, 0 if all are 0,
NaN otherwise), so a masked side never turns a finding negative.

Kinds and their options (docs/labels.md explains each):
- ``chexpert`` (CheXpert, MIMIC): ``uncertain`` zeros | ones | ignore; ``blank`` negative | ignore;
  ``drop_uncertain``: native labels whose -1 drops the image.
- ``votes`` (VinDr): ``readers`` majority | any | all on reader rows; consensus rows use the consensus.
- ``grades`` (UKA): ``grades`` threshold | study; ``threshold`` 1..5; ``ungraded`` ignore | negative.
- ``terms`` (NIH, PadChest): ``matching`` exact | substring; ``missing_terms`` drop | ignore | negative
  (an image whose label cell is missing or an empty list: dropped and counted, kept with every
  finding masked, or kept with every finding negative, as the study's substring tests on the cell
  string did).
- ``binary`` (a user's folder data): ``blank`` negative | ignore.
Every kind also takes ``views`` (canonical views kept, null = all) and ``views_native`` (glob
patterns on the source's own view code, null = all).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import OntologyError

KINDS: tuple[str, ...] = ("chexpert", "votes", "grades", "terms", "binary")
CANONICAL_VIEWS: tuple[str, ...] = ("PA", "AP", "LATERAL", "OTHER")
#: Options with a fixed set of values, per kind.
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "chexpert": {"uncertain": ("zeros", "ones", "ignore"), "blank": ("negative", "ignore")},
    "votes": {"readers": ("majority", "any", "all")},
    "grades": {"grades": ("threshold", "study"), "ungraded": ("ignore", "negative")},
    "terms": {"matching": ("exact", "substring"), "missing_terms": ("drop", "ignore", "negative")},
    "binary": {"blank": ("negative", "ignore")},
}
#: Options whose value is not a choice: views lists, the uncertain-drop list, the grade threshold.
OTHER_OPTIONS: dict[str, tuple[str, ...]] = {
    "chexpert": ("drop_uncertain",), "votes": (), "grades": ("threshold",), "terms": (), "binary": (),
}
VIEW_OPTIONS: tuple[str, ...] = ("views", "views_native")
#: Grades the study counted as positive (5 fell to negative, almost surely a slip).
STUDY_POSITIVE_GRADES: tuple[int, ...] = (3, 4)
MAX_GRADE = 5


def options(kind: str) -> tuple[str, ...]:
    """Every option a policy of ``kind`` must state."""
    return VIEW_OPTIONS + tuple(CHOICES[kind]) + OTHER_OPTIONS[kind]


def _string_list(value: Any, key_path: str, origin: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise OntologyError(key_path, f"expected a list of strings or null, got {value!r}", origin=origin)
    return list(value)


def validate_policy(kind: str, policy: Mapping[str, Any], *, key_path: str, natives: set[str],
                    complete: bool, origin: str = "labels.yml") -> dict[str, Any]:
    """A checked copy of ``policy``; ``complete`` requires every option of ``kind``."""
    if not isinstance(policy, Mapping):
        raise OntologyError(key_path, f"expected a mapping of options, got {policy!r}", origin=origin)
    allowed = options(kind)
    out: dict[str, Any] = {}
    for key, value in policy.items():
        where = f"{key_path}.{key}"
        if key not in allowed:
            raise OntologyError(where, f"unknown option for a {kind!r} source", origin=origin,
                                fix=f"options are {', '.join(allowed)}")
        if key in CHOICES[kind]:
            if value not in CHOICES[kind][key]:
                raise OntologyError(where, f"unknown value {value!r}", origin=origin,
                                    fix=f"use one of {', '.join(CHOICES[kind][key])}")
        elif key == "views":
            value = _string_list(value, where, origin)
            bad = [v for v in value or () if v not in CANONICAL_VIEWS]
            if bad:
                raise OntologyError(where, f"unknown canonical view(s) {bad}", origin=origin,
                                    fix=f"use {', '.join(CANONICAL_VIEWS)}, or views_native for native codes")
        elif key == "views_native":
            value = _string_list(value, where, origin)
        elif key == "drop_uncertain":
            value = _string_list(value, where, origin) or []
            bad = [v for v in value if v not in natives]
            if bad:
                raise OntologyError(where, f"native label(s) {bad} feed no finding of this source", origin=origin,
                                    fix="name native labels exactly as in the source's findings mapping")
        elif key == "threshold":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_GRADE:
                raise OntologyError(where, f"expected an integer grade 1..{MAX_GRADE}, got {value!r}", origin=origin)
        out[key] = value
    if complete:
        missing = [k for k in allowed if k not in out]
        if missing:
            raise OntologyError(key_path, f"missing option(s) {', '.join(missing)}", origin=origin,
                                fix="state every option of the source's kind (null for views = all)")
    return out


# -- binarizers: arrays in, float 1 / 0 / NaN out ------------------------------------------------

def binarize_chexpert(values: np.ndarray, *, uncertain: str, blank: str) -> np.ndarray:
    """1 -> 1, 0 -> 0, -1 -> per ``uncertain``, NaN (blank) -> per ``blank``."""
    out = np.where(values == 1, 1.0, np.where(values == 0, 0.0, np.nan))
    out[values == -1] = {"zeros": 0.0, "ones": 1.0, "ignore": np.nan}[uncertain]
    out[np.isnan(values)] = {"negative": 0.0, "ignore": np.nan}[blank]
    return out


def binarize_votes(votes: np.ndarray, n_readers: np.ndarray, consensus: np.ndarray, *, readers: str) -> np.ndarray:
    """Reader votes -> label; consensus rows (VinDr test) are positive when the consensus is; NaN votes -> NaN."""
    if readers == "majority":
        positive = 2 * votes > n_readers
    elif readers == "any":
        positive = votes >= 1
    else:
        positive = votes >= n_readers
    positive = np.where(consensus, votes >= 1, positive)
    return np.where(np.isnan(votes), np.nan, positive.astype(np.float64))


def binarize_grades(grades: np.ndarray, *, rule: str, threshold: int, ungraded: str) -> np.ndarray:
    """Severity grades (0 = not graded, 1..5) -> label per ``rule`` and ``ungraded``; NaN (missing) -> NaN."""
    if rule == "threshold":
        positive = grades >= threshold
    else:
        positive = np.isin(grades, STUDY_POSITIVE_GRADES)
    out = positive.astype(np.float64)
    out[grades == 0] = {"negative": 0.0, "ignore": np.nan}[ungraded]
    out[np.isnan(grades)] = np.nan
    return out


def binarize_binary(values: np.ndarray, *, blank: str) -> np.ndarray:
    """0/1 labels; blank per ``blank``."""
    out = values.astype(np.float64, copy=True)
    out[np.isnan(values)] = {"negative": 0.0, "ignore": np.nan}[blank]
    return out


def union(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Three-valued OR of label columns (1 if any is 1; 0 if all are 0; NaN otherwise)."""
    if len(columns) == 1:
        return columns[0]
    stacked = np.column_stack(columns)
    return np.where((stacked == 1).any(axis=1), 1.0, np.where((stacked == 0).all(axis=1), 0.0, np.nan))


def match_terms(terms: pd.Series, patterns: Mapping[str, Sequence[str]], *, substring: bool) -> dict[str, np.ndarray]:
    """Per finding, 1.0 where a term matches one of its patterns, else 0.0; NaN where terms is NA.

    ``exact``: a term equals a pattern (case-insensitive). ``substring``: a pattern occurs inside a
    term (case-insensitive), the study's rule. Each distinct term string is matched once.
    """
    codes, uniques = pd.factorize(terms.to_numpy(dtype=object), use_na_sentinel=True)
    split = [[t.casefold() for t in str(u).split("|") if t] for u in uniques]
    out: dict[str, np.ndarray] = {}
    for finding, pats in patterns.items():
        folded = [p.casefold() for p in pats]
        if substring:
            hit_u = [any(p in t for t in ts for p in folded) for ts in split]
        else:
            wanted = set(folded)
            hit_u = [any(t in wanted for t in ts) for ts in split]
        table = np.append(np.asarray(hit_u, dtype=np.float64), np.nan)  # code -1 (NA) -> NaN
        out[finding] = table[codes]
    return out


def view_keep(view: pd.Series, view_native: pd.Series, *, views: Sequence[str] | None,
              views_native: Sequence[str] | None) -> np.ndarray:
    """Rows passing both view filters (null filter = all pass); native codes match as globs."""
    keep = np.ones(len(view), dtype=bool)
    if views is not None:
        keep &= view.isin(list(views)).to_numpy(dtype=bool)
    if views_native is not None:
        codes = view_native.fillna("").astype(str).str.strip()
        uniques = codes.unique()
        hit = {u: any(fnmatch.fnmatchcase(u, p) for p in views_native) for u in uniques}
        keep &= codes.map(hit).to_numpy(dtype=bool)
    return keep
