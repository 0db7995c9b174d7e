"""Comparison sets: the findings over which a mean AUROC and its p-value are both computed.

Arms of one source may train on different label sets (the MIMIC arm trains on the findings MIMIC
shares with the target). A pair of arms is compared over the findings *both* have
(:func:`.compare.compare_models`); a mean AUROC printed beside that p-value must average exactly those
findings on exactly those test images, or the table can show arm A ahead of arm B beside a p-value
that says the opposite. So the study table has one section per comparison set:

* every distinct set of common findings of a pair, holding the arms of those pairs (with p-values
  for exactly those pairs), and
* every arm's own label set, so that no trained arm goes unreported (without p-values when no pair
  shares it).

Each arm's numbers in a section (:func:`set_summary`) are its bootstrap replicates averaged over the
section's findings per resample — the same averaging (defined findings only) as the comparison's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .bootstrap import _nanmean, summarize_bootstrap
from .metrics import METRICS
from .predictions import MEAN


@dataclass(frozen=True)
class ComparisonSet:
    """One section of a source's study table: ``findings`` averaged, ``inits`` shown, ``pairs`` tested."""

    source: str
    findings: tuple[str, ...]
    inits: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        """Identifies the set within its source: its findings joined by ``;`` (comparisons' ``findings``)."""
        return ";".join(self.findings)


def comparison_sets(points: pd.DataFrame) -> list[ComparisonSet]:
    """The comparison sets of every source in ``points`` (from :func:`.bootstrap.bootstrap_metrics`).

    Sources and inits in their order in ``points``; within a source, the sets of compared pairs first,
    larger ones first, then the own label sets no pair shares. Pairs without a common finding are not
    compared (as in :func:`.compare.compare_models`) and form no set.
    """
    out: list[ComparisonSet] = []
    rows = points[points["finding"] != MEAN]
    for source in dict.fromkeys(rows["source"]):
        part = rows[rows["source"] == source]
        order = list(dict.fromkeys(part["finding"]))
        own = {init: tuple(f for f in order if f in set(g["finding"]))
               for init, g in part.groupby("init", sort=False)}
        inits = list(own)
        sets: dict[tuple[str, ...], tuple[list[str], list[tuple[str, str]]]] = {}
        for a, b in itertools.combinations(inits, 2):
            common = tuple(f for f in own[a] if f in own[b])
            if common:
                members, pairs = sets.setdefault(common, ([], []))
                members += [i for i in (a, b) if i not in members]
                pairs.append((a, b))
        for init, findings in own.items():
            members, _ = sets.setdefault(findings, ([], []))
            if init not in members:
                members.append(init)
        for findings, (members, pairs) in sorted(sets.items(), key=lambda kv: (not kv[1][1], -len(kv[0]))):
            ranked = tuple(sorted(members, key=inits.index))
            out.append(ComparisonSet(source, findings, ranked, tuple(pairs)))
    return out


def set_summary(points: pd.DataFrame, replicates: pd.DataFrame, sets: list[ComparisonSet],
                ci: float = 0.95) -> pd.DataFrame:
    """Each arm's metrics averaged over each set's findings, summarized like :func:`summarize_bootstrap`.

    Long form, one row per (source, set, init, metric) with ``point`` (mean of the full-test-set
    values), ``mean``, ``sd``, ``ci_low``, ``ci_high`` over the resamples, ``n_defined``,
    ``n_resamples``, plus ``n_findings`` (the set's size) and ``n_images``/``n_patients`` (test split).
    """
    pts = points.set_index(["source", "init", "finding"])
    metrics = [k for k in METRICS if k in replicates.columns]
    reps = {key: grp.sort_values("resample") for key, grp in replicates.groupby(["source", "init", "finding"])}
    point_rows, rep_rows = [], []
    for s in sets:
        for init in s.inits:
            values = {k: np.vstack([reps[s.source, init, f][k].to_numpy(float) for f in s.findings])
                      for k in metrics}
            n_res = next(iter(values.values())).shape[1]
            rep_rows.append(pd.DataFrame({"source": s.source, "set": s.key, "init": init,
                                          "resample": np.arange(n_res),
                                          **{k: _nanmean(v, 0) for k, v in values.items()}}))
            point = {k: _nanmean(pts.loc[[(s.source, init, f) for f in s.findings], k].to_numpy(float)[:, None], 0)[0]
                     for k in metrics}
            point_rows.append({"source": s.source, "set": s.key, "init": init, **point})
    if not point_rows:
        return pd.DataFrame()
    summary = summarize_bootstrap(pd.DataFrame(point_rows), pd.concat(rep_rows, ignore_index=True), ci=ci,
                                  keys=("source", "set", "init"))
    sizes = {(s.source, s.key): len(s.findings) for s in sets}
    summary["n_findings"] = [sizes[k] for k in zip(summary["source"], summary["set"])]
    n = points[points["finding"] == MEAN].drop_duplicates("source").set_index("source")[["n_images", "n_patients"]]
    return summary.join(n, on="source")


__all__ = ["ComparisonSet", "comparison_sets", "set_summary"]
