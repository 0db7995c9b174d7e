"""Native labels of one source's manifest -> canonical findings, float 1 / 0 / NaN.

Order of operations (each drop is counted under its policy name, an image under the first that
drops it): ``view_filter`` (views / views_native), then ``drop_uncertain`` (kind chexpert) or
``missing_terms`` (kind terms, when the policy is ``drop``), then binarization of every finding
of the label set. A finding the source does not annotate is NaN for every image, never 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import LabelDataError
from .ontology import DEFAULT_PRESET, Ontology, SourceSpec
from .policies import (MAX_GRADE, binarize_binary, binarize_chexpert, binarize_grades, binarize_votes, match_terms,
                       union, view_keep)

log = logging.getLogger(__name__)

LABEL_PREFIX = "label:"
DROPPED_COLUMNS: tuple[str, ...] = ("image_id", "reason", "detail")
#: Native values each kind accepts (NaN = blank, always accepted where a blank policy exists).
_ALLOWED = {"chexpert": (1.0, 0.0, -1.0), "binary": (1.0, 0.0)}


@dataclass
class HarmonizeResult:
    """Harmonized labels of one source.

    ``labels``: one row per kept image, column ``image_id`` then one float column per finding of the
    label set (1 / 0 / NaN). ``dropped``: ``image_id, reason, detail`` per dropped image.
    ``counts``: ``images_in``, ``images_out``, ``dropped/<reason>``. ``policy``: the options applied.
    ``unannotated``: findings of the label set this source does not annotate (all NaN).
    """

    source: str
    labels: pd.DataFrame
    dropped: pd.DataFrame
    counts: dict[str, int]
    policy: dict[str, Any]
    findings: tuple[str, ...]
    unannotated: tuple[str, ...] = field(default=())


def _column(manifest: pd.DataFrame, name: str, source: str, why: str) -> pd.Series:
    if name not in manifest.columns:
        import difflib

        natives = [c for c in manifest.columns if c.startswith(LABEL_PREFIX)]
        close = difflib.get_close_matches(name, natives, n=1)
        hint = f" (did you mean {close[0].removeprefix(LABEL_PREFIX)!r}?)" if close else ""
        known = f"; the manifest's native labels: {', '.join(c.removeprefix(LABEL_PREFIX) for c in natives)}" if (
            name.startswith(LABEL_PREFIX) and natives) else ""
        raise LabelDataError(f"{source} manifest: column {name!r} is missing ({why}){hint}; fix the feed in "
                             f"labels.yml (sources.{source}), or re-read the source with its reader{known}")
    return manifest[name]


def _numeric(manifest: pd.DataFrame, native: str, source: str, finding: str) -> np.ndarray:
    col = _column(manifest, LABEL_PREFIX + native, source, f"native label feeding {finding!r}")
    try:
        return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
        _fail(manifest, bad.to_numpy(), LABEL_PREFIX + native, source, "is not a number")


def _fail(manifest: pd.DataFrame, bad: np.ndarray, column: str, source: str, problem: str) -> None:
    rows = np.flatnonzero(bad)
    first = int(rows[0])
    value = manifest[column].iloc[first]
    value = value.item() if isinstance(value, np.generic) else value
    more = f" ({len(rows) - 1} more rows like it)" if len(rows) > 1 else ""
    native = f"the metadata column {column.removeprefix(LABEL_PREFIX)!r}" if column.startswith(LABEL_PREFIX) else ""
    where = f", file {manifest['path'].iloc[first]!r}" if "path" in manifest.columns else ""
    raise LabelDataError(f"{source} manifest, column {column!r}, row {first} (image_id "
                         f"{manifest['image_id'].iloc[first]!r}{where}): value {value!r} {problem}{more}; fix "
                         f"{native or 'the metadata'} for that image, or choose the right kind for this source "
                         "in labels.yml")


def _check_values(manifest: pd.DataFrame, values: np.ndarray, native: str, source: str,
                  allowed: Sequence[float] | None = None, *, low: float = 0, high: float = MAX_GRADE,
                  blank_ok: bool = True) -> None:
    blank = np.isnan(values)
    if allowed is not None:
        bad = ~np.isin(values, allowed) & ~blank
        expected = f"not one of {', '.join(f'{a:g}' for a in allowed)}"
    else:
        bad = ((values < low) | (values > high) | (values != np.floor(values))) & ~blank
        expected = f"not an integer in {low:g}..{high:g}"
    if not blank_ok:
        bad |= blank
        expected += " (blank not allowed)"
    if bad.any():
        _fail(manifest, bad, LABEL_PREFIX + native, source, f"is {expected}")


class _Drops:
    """Dropped images with reasons, in the order policies drop them."""

    def __init__(self, manifest: pd.DataFrame) -> None:
        self.manifest = manifest
        self.keep = np.ones(len(manifest), dtype=bool)
        self.parts: list[pd.DataFrame] = []
        self.counts: dict[str, int] = {}

    def drop(self, mask: np.ndarray, reason: str, detail: pd.Series | str) -> None:
        mask = mask & self.keep
        n = int(mask.sum())
        self.counts[f"dropped/{reason}"] = n
        if n:
            detail = detail[mask].to_numpy() if isinstance(detail, pd.Series) else detail
            self.parts.append(pd.DataFrame({"image_id": self.manifest["image_id"].to_numpy()[mask],
                                            "reason": reason, "detail": detail}))
            self.keep &= ~mask

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="str") for c in DROPPED_COLUMNS})
        return pd.concat(self.parts, ignore_index=True).astype("str")


def _view_drops(manifest: pd.DataFrame, policy: Mapping[str, Any], drops: _Drops, source: str) -> None:
    views, natives = policy["views"], policy["views_native"]
    if views is None and natives is None:
        drops.counts["dropped/view_filter"] = 0
        return
    view = _column(manifest, "view", source, "the view filter needs it") if views is not None \
        else pd.Series(pd.NA, index=manifest.index, dtype="str")
    native = _column(manifest, "view_native", source, "the views_native filter needs it") if natives is not None \
        else pd.Series(pd.NA, index=manifest.index, dtype="str")
    keep = view_keep(view, native, views=views, views_native=natives)
    shown_view = manifest["view"].astype(object).fillna("NA").astype(str) if "view" in manifest else "NA"
    shown_native = manifest["view_native"].astype(object).fillna("").astype(str) if "view_native" in manifest else ""
    detail = "view " + shown_view + " (native " + shown_native + ") not kept"
    drops.drop(~keep, "view_filter", pd.Series(detail, index=manifest.index))


def _chexpert(manifest: pd.DataFrame, spec: SourceSpec, policy: Mapping[str, Any], drops: _Drops,
              findings: list[str]) -> dict[str, np.ndarray]:
    values = {n: _numeric(manifest, n, spec.name, f)
              for f in findings if f in spec.findings for n in spec.findings[f].natives}
    for native in policy["drop_uncertain"]:
        if native not in values:
            values[native] = _numeric(manifest, native, spec.name, "drop_uncertain")
    for native, v in values.items():
        _check_values(manifest, v, native, spec.name, _ALLOWED["chexpert"])
    uncertain = {n: values[n] == -1 for n in policy["drop_uncertain"]}
    if uncertain:
        any_uncertain = np.logical_or.reduce(list(uncertain.values()))
        detail = pd.Series("", index=manifest.index, dtype=object)
        for native, mask in uncertain.items():
            detail = detail + np.where(mask, native + "; ", "")
        drops.drop(any_uncertain, "drop_uncertain", "uncertain (-1) in " + detail.str.rstrip("; "))
    else:
        drops.counts["dropped/drop_uncertain"] = 0
    return {f: union([binarize_chexpert(values[n], uncertain=policy["uncertain"], blank=policy["blank"])
                      for n in spec.findings[f].natives])
            for f in findings if f in spec.findings}


def _votes(manifest: pd.DataFrame, spec: SourceSpec, policy: Mapping[str, Any],
           findings: list[str]) -> dict[str, np.ndarray]:
    n_readers = pd.to_numeric(_column(manifest, "n_readers", spec.name, "reader votes need it"),
                              errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(n_readers) | (n_readers < 1)
    if bad.any():
        _fail(manifest, bad, "n_readers", spec.name, "is not a reader count >= 1")
    if "label_consensus" in manifest.columns:
        consensus = manifest["label_consensus"].fillna(False).to_numpy(dtype=bool)
    else:
        consensus = np.zeros(len(manifest), dtype=bool)
    out = {}
    for f in findings:
        if f not in spec.findings:
            continue
        cols = []
        for native in spec.findings[f].natives:
            votes = _numeric(manifest, native, spec.name, f)
            # NaN: the vote is unknown (a missing cell, or a label this copy of the dataset lacks): masked
            bad = ~np.isnan(votes) & ((votes < 0) | (votes > n_readers) | (votes != np.floor(votes)))
            if bad.any():
                _fail(manifest, bad, LABEL_PREFIX + native, spec.name, "is not a vote count in 0..n_readers")
            cols.append(binarize_votes(votes, n_readers, consensus, readers=policy["readers"]))
        out[f] = union(cols)
    return out


def _grades(manifest: pd.DataFrame, spec: SourceSpec, policy: Mapping[str, Any],
            findings: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for f in findings:
        if f not in spec.findings:
            continue
        cols = []
        for native in spec.findings[f].natives:
            values = _numeric(manifest, native, spec.name, f)
            # NaN: a missing grade cell, a missing label (masked), never "not graded"
            if native in spec.binary:
                _check_values(manifest, values, native, spec.name, _ALLOWED["binary"])
                cols.append(values)
            else:
                _check_values(manifest, values, native, spec.name)
                cols.append(binarize_grades(values, rule=policy["grades"], threshold=policy["threshold"],
                                            ungraded=policy["ungraded"]))
        out[f] = union(cols)
    return out


def _binary(manifest: pd.DataFrame, spec: SourceSpec, policy: Mapping[str, Any],
            findings: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for f in findings:
        if f not in spec.findings:
            continue
        cols = []
        for native in spec.findings[f].natives:
            values = _numeric(manifest, native, spec.name, f)
            _check_values(manifest, values, native, spec.name, _ALLOWED["binary"])
            cols.append(binarize_binary(values, blank=policy["blank"]))
        out[f] = union(cols)
    return out


def _terms(manifest: pd.DataFrame, spec: SourceSpec, policy: Mapping[str, Any], drops: _Drops,
           findings: list[str]) -> dict[str, np.ndarray]:
    terms = _column(manifest, "terms", spec.name, "term matching needs it")
    # An empty term list states nothing: treated like a missing one.
    missing = (terms.isna() | (terms.astype(object).fillna("").astype(str).str.strip() == "")).to_numpy(dtype=bool)
    if policy["missing_terms"] == "drop":
        drops.drop(missing, "missing_terms", "no terms (label cell missing or empty)")
    else:
        drops.counts["dropped/missing_terms"] = 0
    substring = policy["matching"] == "substring"
    patterns = {f: (spec.findings[f].substrings if substring else spec.findings[f].natives)
                for f in findings if f in spec.findings}
    if policy["missing_terms"] == "negative":  # the study: no substring occurs in a missing or empty cell
        return match_terms(terms.where(~missing, ""), patterns, substring=substring)
    return match_terms(terms.where(~missing), patterns, substring=substring)


def harmonize_labels(manifest: pd.DataFrame, ontology: Ontology, source: str, preset: str = DEFAULT_PRESET,
                     label_set: str | Sequence[str] = "study",
                     overrides: Mapping[str, Any] | None = None) -> HarmonizeResult:
    """Binarize ``source``'s native labels into the findings of ``label_set`` (see the module docstring).

    ``preset``: ``default`` or a preset of labels.yml (``paper``); ``overrides``: policy options that
    win over both, e.g. ``{"uncertain": "ones"}``.
    """
    started = time.perf_counter()
    spec = ontology.source(source)
    policy = ontology.policy(source, preset, overrides)
    findings = ontology.label_set(label_set, source)
    image_id = _column(manifest, "image_id", source, "every manifest has it")
    dup = image_id.duplicated()
    if dup.any():
        _fail(manifest, dup.to_numpy(), "image_id", source, "is a duplicate image id")
    manifest = manifest.reset_index(drop=True)

    drops = _Drops(manifest)
    _view_drops(manifest, policy, drops, source)
    if spec.kind == "chexpert":
        values = _chexpert(manifest, spec, policy, drops, findings)
    elif spec.kind == "votes":
        values = _votes(manifest, spec, policy, findings)
    elif spec.kind == "grades":
        values = _grades(manifest, spec, policy, findings)
    elif spec.kind == "terms":
        values = _terms(manifest, spec, policy, drops, findings)
    else:
        values = _binary(manifest, spec, policy, findings)

    keep = drops.keep
    unannotated = tuple(f for f in findings if f not in spec.findings)
    nan = np.full(int(keep.sum()), np.nan)
    labels = pd.DataFrame({"image_id": manifest["image_id"].to_numpy()[keep]}).astype({"image_id": "str"})
    for f in findings:
        labels[f] = values[f][keep] if f in values else nan.copy()
    dropped = drops.frame()
    counts = {"images_in": len(manifest), "images_out": int(keep.sum()), **drops.counts}
    seconds = time.perf_counter() - started
    log.info("%s: harmonized %d images -> %d kept (%s), %d findings (%d not annotated) in %.2f s (%.0f images/s)",
             source, len(manifest), counts["images_out"],
             ", ".join(f"{k.split('/')[1]} {v}" for k, v in drops.counts.items()) or "none dropped",
             len(findings), len(unannotated), seconds, len(manifest) / max(seconds, 1e-9))
    return HarmonizeResult(source, labels, dropped, counts, policy, tuple(findings), unannotated)
