"""Result tables shaped like the study's: mean ± SD [CI], p-values, and the n every number rests on.

:func:`study_table` (one row per source x comparison set x init, skipped arms included) and
:func:`finding_table` (one row per source x finding x init) are tidy and numeric, for storage and
further analysis; :func:`format_results` turns them into display strings; :func:`study_markdown`
renders the report. In the p-value columns of a row for init X, ``p_vs_Y`` tests "X better than Y"
(one-sided, default) or "X differs from Y" (``p="two_sided"``); ``p_adj_vs_Y`` is the same after the
family-wide adjustment of :func:`.compare.adjust_comparisons`. A study-table row carries p-values
only for the pairs compared over exactly its set's findings (:mod:`.sets`), so a mean AUROC and the
p-value beside it always rest on the same findings and test images.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .metrics import METRICS
from .predictions import MEAN
from .sets import ComparisonSet

STATS = ("point", "mean", "sd", "ci_low", "ci_high")
LABELS = {"auroc": "AUROC", "accuracy": "Accuracy", "sensitivity": "Sensitivity", "specificity": "Specificity",
          "f1": "F1"}
#: Columns of the arms table (:func:`study_table`'s ``arms``): every configured arm of a source.
ARM_COLUMNS = ("source", "init", "status", "note")


def _wide(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per ``keys`` (in their order of appearance in ``rows``), ``<metric>_<stat>`` columns."""
    wide = rows.set_index([*keys, "metric"])[list(STATS)].unstack("metric")
    wide.columns = [f"{m}_{s}" for s, m in wide.columns]
    table = wide[[f"{m}_{s}" for m in METRICS for s in STATS if f"{m}_{s}" in wide.columns]]
    auroc = rows[rows["metric"] == "auroc"].set_index(keys)
    table = table.assign(n_defined=auroc["n_defined"], n_resamples=auroc["n_resamples"]).reset_index()
    ranks = {k: {v: i for i, v in enumerate(dict.fromkeys(rows[k]))} for k in keys}
    return table.sort_values(keys, key=lambda s: s.map(ranks[s.name])).reset_index(drop=True)


def _p_columns(p: str) -> tuple[str, str, str, str]:
    if p not in ("one_sided", "two_sided"):
        raise ValueError(f"p must be 'one_sided' or 'two_sided', got {p!r}")
    if p == "one_sided":
        return "p_greater", "p_greater_adj", "p_less", "p_less_adj"
    return "p_two_sided", "p_two_sided_adj", "p_two_sided", "p_two_sided_adj"


def _attach_p(table: pd.DataFrame, comparisons: pd.DataFrame | None, inits: list[str], p: str,
              finding_of, findings_of) -> pd.DataFrame:
    """``p_vs_<other>`` / ``p_adj_vs_<other>`` where a comparison of exactly this row's findings exists."""
    raw_col, adj_col, mirror_raw, mirror_adj = _p_columns(p)
    if comparisons is None or comparisons.empty:
        return table
    index = comparisons.set_index(["source", "finding", "init_a", "init_b"])
    for other in inits:
        raw, adj = [], []
        for _, r in table.iterrows():
            key, mirror = (r["source"], finding_of(r), r["init"], other), (r["source"], finding_of(r), other, r["init"])
            hit = (index.loc[key], raw_col, adj_col) if key in index.index else \
                (index.loc[mirror], mirror_raw, mirror_adj) if mirror in index.index else None
            if hit is None or ("findings" in hit[0] and findings_of(r) is not None
                               and hit[0]["findings"] != findings_of(r)):
                raw.append(np.nan), adj.append(np.nan)
            else:
                raw.append(hit[0][hit[1]]), adj.append(hit[0].get(hit[2], np.nan))
        if not np.isnan(np.asarray(raw, dtype=float)).all():
            table[f"p_vs_{other}"], table[f"p_adj_vs_{other}"] = raw, adj
    return table


def study_table(sets_summary: pd.DataFrame, comparisons: pd.DataFrame | None = None, *, p: str = "one_sided",
                arms: pd.DataFrame | None = None) -> pd.DataFrame:
    """The study table: one row per (source, comparison set, init), then each skipped arm of a source.

    ``sets_summary``: :func:`.sets.set_summary`. Columns ``source, findings`` (the set, ``;``-joined),
    ``n_findings, init, status`` ("trained" / "skipped"), ``<metric>_<stat>``, ``n_defined`` (resamples
    with a defined mean AUROC), ``n_resamples, n_images, n_patients`` (test split), ``p_vs_<other>``
    and ``p_adj_vs_<other>`` (only for pairs compared over exactly this set), ``note`` (a skipped arm:
    why, and how to make it run). ``arms``: :data:`ARM_COLUMNS` rows (skipped ones are added).
    """
    keys = ["source", "set", "init"]
    table = _wide(sets_summary, keys)
    extra = sets_summary[sets_summary["metric"] == "auroc"].set_index(keys)[["n_findings", "n_images", "n_patients"]]
    table = table.join(extra, on=keys).rename(columns={"set": "findings"})
    table.insert(3, "status", "trained")
    inits = list(dict.fromkeys(sets_summary["init"]))
    table = _attach_p(table, comparisons, inits, p, finding_of=lambda r: MEAN, findings_of=lambda r: r["findings"])
    table["note"] = ""
    if arms is not None and len(arms):
        skipped = arms[arms["status"] == "skipped"]
        extra_rows = pd.DataFrame({"source": skipped["source"], "findings": "", "init": skipped["init"],
                                   "status": "skipped", "note": skipped["note"]})
        table = pd.concat([table, extra_rows], ignore_index=True)
        order = {s: i for i, s in enumerate(dict.fromkeys(arms["source"]))}
        table = table.sort_values("source", key=lambda s: s.map(order).fillna(len(order)), kind="stable")
    front = ["source", "findings", "n_findings", "init", "status"]
    return table[front + [c for c in table.columns if c not in front]].reset_index(drop=True)


def finding_table(summary: pd.DataFrame, points: pd.DataFrame | None = None,
                  comparisons: pd.DataFrame | None = None, *, p: str = "one_sided") -> pd.DataFrame:
    """One row per (source, finding, init): ``<metric>_<stat>``, ``n_defined``, the test split's class
    counts ``n_pos``/``n_neg`` (from ``points``), and the pair's p-values for that finding."""
    keys = ["source", "finding", "init"]
    rows = summary[summary["finding"] != MEAN]
    table = _wide(rows, keys)
    if points is not None:
        counts = points[points["finding"] != MEAN].set_index(keys)[["n_pos", "n_neg"]].astype(int)
        table = table.join(counts, on=keys)
    inits = list(dict.fromkeys(summary["init"]))
    return _attach_p(table, comparisons, inits, p, finding_of=lambda r: r["finding"], findings_of=lambda r: None)


def _pct(x: float, percent: bool, digits: int) -> str:
    return "n/a" if pd.isna(x) else f"{x * 100:.{digits}f}" if percent else f"{x:.{digits + 2}f}"


def format_p(p: float) -> str:
    """p-values as printed in the tables: three decimals, ``<0.001`` below."""
    return "n/a" if pd.isna(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def format_results(table: pd.DataFrame, *, percent: bool = True, digits: int = 1,
                   metrics: tuple[str, ...] = ("accuracy", "sensitivity", "specificity"),
                   adjustment: str = "adj") -> pd.DataFrame:
    """Display strings: AUROC as ``mean ± SD [low, high]``, other metrics ``mean ± SD``, p raw and adjusted.

    A p-value column shows "—" where the row's arm was not compared with that one over these findings.
    """
    out = pd.DataFrame({k.capitalize(): table[k] for k in ("source", "finding", "init") if k in table.columns})
    if {"n_pos", "n_neg"} <= set(table.columns):
        out["Test pos / neg"] = [f"{int(a)} / {int(b)}" for a, b in table[["n_pos", "n_neg"]].itertuples(index=False)]
    f = lambda x: _pct(x, percent, digits)  # noqa: E731
    out["AUROC"] = [f"{f(m)} ± {f(s)} [{f(lo)}, {f(hi)}]" for m, s, lo, hi in
                    table[["auroc_mean", "auroc_sd", "auroc_ci_low", "auroc_ci_high"]].itertuples(index=False)]
    if {"n_defined", "n_resamples"} <= set(table.columns):  # fewer resamples than the header says: say how many
        out["AUROC"] = [a if pd.isna(d) or d in (0, n) else f"{a} ({int(d)}/{int(n)} resamples)" for a, d, n in
                        zip(out["AUROC"], table["n_defined"], table["n_resamples"])]
    for k in metrics:
        out[LABELS[k]] = [f"{f(m)} ± {f(s)}" for m, s in table[[f"{k}_mean", f"{k}_sd"]].itertuples(index=False)]
    for col in table.columns:
        if col.startswith("p_vs_"):
            other = col[len("p_vs_"):]
            out[f"p vs {other}"] = [("—" if i == other or pd.isna(v) else format_p(v))
                                    for i, v in zip(table["init"], table[col])]
            out[f"p ({adjustment}) vs {other}"] = [("—" if i == other or pd.isna(v) else format_p(v))
                                                   for i, v in zip(table["init"], table[f"p_adj_vs_{other}"])]
    return out


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of a (string) DataFrame."""
    def cell(v: object) -> str:
        return ("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)).replace("|", "\\|")
    lines = ["| " + " | ".join(cell(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def ci_label(summary: pd.DataFrame) -> str:
    """``95%``: the interval level of ``summary`` (its ``ci_level`` column; 95% for summaries made without one)."""
    levels = summary["ci_level"].dropna().unique() if "ci_level" in summary else [0.95]
    if len(levels) > 1:
        raise ValueError(f"summary mixes interval levels {sorted(levels)}; summarize every source with one ci")
    return f"{float(levels[0]) * 100:g}%"


def _set_title(s: ComparisonSet, undefined: set[str], compared: bool) -> str:
    """A section's heading: its findings (how many have an AUROC on this test split) and its pairs."""
    names = ", ".join(s.findings)
    dropped = [f for f in s.findings if f in undefined]
    count = f"{len(s.findings)} finding(s)" + (f", {len(s.findings) - len(dropped)} with both classes in the test"
                                                " split" if dropped else "")
    if not s.pairs:
        why = ("the sections above compare it over the findings it shares" if compared else
               "no other arm trained on this source")
        return (f"### {s.inits[0]}'s own {count}: {names}\n\nNot compared: no other arm was trained on exactly "
                f"these findings; {why}.\n")
    pairs = ", ".join(f"{a} vs {b}" for a, b in s.pairs)
    return (f"### Over {count}: {names}\n\nEvery number in this section averages these findings (those it can:"
            f" see the notes) on the same test images; p-values for {pairs}.\n")


def _findings_of(points: pd.DataFrame, source: str) -> pd.DataFrame:
    return points[(points["source"] == source) & (points["finding"] != MEAN)]


def _single_class(part: pd.DataFrame) -> pd.Series:
    """Rows whose finding has one class only in the test split: its AUROC is undefined."""
    return (part["n_pos"] == 0) | (part["n_neg"] == 0)


def undefined_notes(points: pd.DataFrame, source: str, threshold: str = "val_youden") -> list[str]:
    """Why a source's cells say "n/a": findings with one class in the test split (AUROC undefined) or,
    with ``val_youden``, in the validation split (no threshold, so no thresholded metric)."""
    part = _findings_of(points, source)
    notes = []
    single = part[_single_class(part)].drop_duplicates("finding")
    if len(single):
        listed = ", ".join(f"{r.finding} ({int(r.n_pos)} pos / {int(r.n_neg)} neg)" for r in single.itertuples())
        notes.append(f"n/a AUROC: one class only in the test split, so the AUROC is undefined and every mean skips"
                     f" the finding: {listed}.")
    no_threshold = part[part["threshold"].isna() & ~part["finding"].isin(single["finding"])]
    if len(no_threshold) and threshold == "val_youden":
        by = no_threshold.groupby("finding", sort=False)["init"].apply(lambda s: ", ".join(s))
        listed = "; ".join(f"{f} ({inits})" for f, inits in by.items())
        notes.append("n/a accuracy, sensitivity, specificity: one class only in the validation split, so no Youden"
                     f" threshold to apply to the test split; the means skip the finding: {listed}.")
    return notes


def study_markdown(sets_summary: pd.DataFrame, summary: pd.DataFrame, points: pd.DataFrame,
                   comparisons: pd.DataFrame | None, sets: Iterable[ComparisonSet], *, p: str = "one_sided",
                   arms: pd.DataFrame | None = None, provenance=None, cluster: bool = False,
                   threshold: str = "val_youden", percent: bool = True, digits: int = 1) -> str:
    """The study report: provenance, then per source its n, one table per comparison set, skipped arms,
    the per-finding table (with class counts) and notes explaining every "n/a"."""
    method = "adj" if comparisons is None or "adjustment" not in comparisons else str(comparisons["adjustment"].iloc[0])
    scale = "%" if percent else "fraction"
    test = "one-sided, row arm better than the column's" if p == "one_sided" else "two-sided"
    cols = ("p_greater", "p_less") if p == "one_sided" else ("p_two_sided",)
    n_tests = 0 if comparisons is None else int(sum(comparisons[c].notna().sum() for c in cols))
    sets = list(sets)
    table = study_table(sets_summary, comparisons, p=p, arms=arms)
    per = finding_table(summary, points, comparisons, p=p)
    parts = ["# Study table\n"]
    if provenance is not None:
        parts.append(f"**{provenance.line()}**\n")
        if provenance.synthetic:
            parts.append("These are the synthetic demo's numbers: they show that the whole chain runs and (see the"
                         " controls, where configured) can tell a real effect from chance, not which initialization"
                         " is better on radiographs.\n")
    n_res = int(summary["n_resamples"].max()) if len(summary) else 0
    parts.append(f"Bootstrap mean ± SD [{ci_label(summary)} percentile interval] over {n_res} resamples of the test"
                 f" {'patients' if cluster else 'images'} (the same resamples for every arm of a source), in {scale}."
                 f" p: paired bootstrap, {test}, (k+1)/(B+1) over the B resamples where both AUROCs are defined;"
                 f" adjusted: {method} over all {n_tests} defined tests (sources x findings and means x pairs)."
                 " Each section's means and p-values use exactly the findings it names; a number resting on fewer"
                 " resamples (a rare finding) says how many. \"—\": not compared in this section.\n")
    for source in dict.fromkeys([*sets_summary["source"], *(arms["source"] if arms is not None else [])]):
        rows = table[table["source"] == source]
        trained = rows[rows["status"] == "trained"]
        if len(trained):
            n_img, n_pat = int(trained["n_images"].iloc[0]), int(trained["n_patients"].iloc[0])
            parts.append(f"\n## {source}: {n_img} test images of {n_pat} patients\n")
        else:
            parts.append(f"\n## {source}: no arm trained\n")
        mine = [s for s in sets if s.source == source]
        pts = _findings_of(points, source)
        undefined = set(pts.loc[_single_class(pts), "finding"])
        for s in mine:
            part = trained[trained["findings"] == s.key]
            part = part.drop(columns=[c for c in part.columns if c.startswith("p_") and part[c].isna().all()])
            text = format_results(part.reset_index(drop=True), percent=percent, digits=digits, adjustment=method)
            parts += [_set_title(s, undefined, any(x.pairs for x in mine)), to_markdown(text.drop(columns="Source"))]
        skipped = rows[rows["status"] == "skipped"]
        if len(skipped):
            parts += ["### Skipped arms\n", to_markdown(pd.DataFrame({"Init": skipped["init"],
                                                                     "Why, and how to make it run": skipped["note"]}))]
        fp = per[per["source"] == source]
        if len(fp):
            fp = fp.drop(columns=[c for c in fp.columns if c.startswith("p_") and fp[c].isna().all()])
            text = format_results(fp.reset_index(drop=True), percent=percent, digits=digits, adjustment=method)
            parts += [f"### {source}: per finding\n", to_markdown(text.drop(columns="Source"))]
        if notes := undefined_notes(points, source, threshold):
            parts += ["Notes:\n", "\n".join(f"- {n}" for n in notes) + "\n"]
    return "\n".join(parts)


__all__ = ["ARM_COLUMNS", "ci_label", "finding_table", "format_p", "format_results", "study_markdown", "study_table",
           "to_markdown", "undefined_notes"]
