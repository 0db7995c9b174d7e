"""Result tables shaped like the study's: rows source x init (or x finding), mean ± SD [CI], p-values.

:func:`results_table` is tidy and numeric (for storage and further analysis); :func:`format_results`
turns it into display strings; :func:`to_markdown` / :func:`results_markdown` render them.
In the p-value columns of a row for init X, ``p_vs_Y`` tests "X better than Y" (one-sided,
default) or "X differs from Y" (``p="two_sided"``); ``p_adj_vs_Y`` is the same after the family-wide
adjustment of :func:`.compare.adjust_comparisons`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import METRICS
from .predictions import MEAN

STATS = ("point", "mean", "sd", "ci_low", "ci_high")
LABELS = {"auroc": "AUROC", "accuracy": "Accuracy", "sensitivity": "Sensitivity", "specificity": "Specificity",
          "f1": "F1"}


def results_table(summary: pd.DataFrame, comparisons: pd.DataFrame | None = None, *, per_finding: bool = False,
                  p: str = "one_sided") -> pd.DataFrame:
    """One row per (source, init) for the mean over findings, or per (source, finding, init).

    Columns ``<metric>_<stat>`` for every metric and stat, ``n_defined`` of the AUROC, then
    ``p_vs_<other>`` and ``p_adj_vs_<other>`` for every other init on the source.
    """
    if p not in ("one_sided", "two_sided"):
        raise ValueError(f"p must be 'one_sided' or 'two_sided', got {p!r}")
    rows = summary[(summary["finding"] != MEAN) if per_finding else (summary["finding"] == MEAN)]
    keys = ["source", "finding", "init"] if per_finding else ["source", "init"]
    wide = rows.set_index([*keys, "metric"])[list(STATS)].unstack("metric")
    wide.columns = [f"{m}_{s}" for s, m in wide.columns]
    order = [f"{m}_{s}" for m in METRICS for s in STATS if f"{m}_{s}" in wide.columns]
    table = wide[order]
    table = table.assign(n_defined=rows[rows["metric"] == "auroc"].set_index(keys)["n_defined"]).reset_index()
    table = _order(table, summary, keys)
    if comparisons is None or comparisons.empty:
        return table
    finding_of = (lambda r: r["finding"]) if per_finding else (lambda r: MEAN)
    inits = list(dict.fromkeys(summary["init"]))
    raw_col, adj_col = ("p_greater", "p_greater_adj") if p == "one_sided" else ("p_two_sided", "p_two_sided_adj")
    mirror_raw, mirror_adj = ("p_less", "p_less_adj") if p == "one_sided" else (raw_col, adj_col)
    index = comparisons.set_index(["source", "finding", "init_a", "init_b"])
    for other in inits:
        raw, adj = [], []
        for _, r in table.iterrows():
            f = finding_of(r)
            if (r["source"], f, r["init"], other) in index.index:
                c = index.loc[(r["source"], f, r["init"], other)]
                raw.append(c[raw_col]), adj.append(c.get(adj_col, np.nan))
            elif (r["source"], f, other, r["init"]) in index.index:
                c = index.loc[(r["source"], f, other, r["init"])]
                raw.append(c[mirror_raw]), adj.append(c.get(mirror_adj, np.nan))
            else:
                raw.append(np.nan), adj.append(np.nan)
        if not np.isnan(np.asarray(raw, dtype=float)).all():
            table[f"p_vs_{other}"], table[f"p_adj_vs_{other}"] = raw, adj
    return table


def _order(table: pd.DataFrame, summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sources, findings and inits in the order they first appear in the summary."""
    ranks = {k: {v: i for i, v in enumerate(dict.fromkeys(summary[k]))} for k in keys}
    return table.sort_values(keys, key=lambda s: s.map(ranks[s.name])).reset_index(drop=True)


def _pct(x: float, percent: bool, digits: int) -> str:
    return "n/a" if pd.isna(x) else f"{x * 100:.{digits}f}" if percent else f"{x:.{digits + 2}f}"


def format_p(p: float) -> str:
    """p-values as printed in the tables: three decimals, ``<0.001`` below."""
    return "n/a" if pd.isna(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def format_results(table: pd.DataFrame, *, percent: bool = True, digits: int = 1,
                   metrics: tuple[str, ...] = ("accuracy", "sensitivity", "specificity"),
                   adjustment: str = "adj") -> pd.DataFrame:
    """Display strings: AUROC as ``mean ± SD [low, high]``, other metrics ``mean ± SD``, p raw and adjusted."""
    out = pd.DataFrame({k.capitalize(): table[k] for k in ("source", "finding", "init") if k in table.columns})
    f = lambda x: _pct(x, percent, digits)  # noqa: E731
    out["AUROC"] = [f"{f(m)} ± {f(s)} [{f(lo)}, {f(hi)}]" for m, s, lo, hi in
                    table[["auroc_mean", "auroc_sd", "auroc_ci_low", "auroc_ci_high"]].itertuples(index=False)]
    for k in metrics:
        out[LABELS[k]] = [f"{f(m)} ± {f(s)}" for m, s in table[[f"{k}_mean", f"{k}_sd"]].itertuples(index=False)]
    for col in table.columns:
        if col.startswith("p_vs_"):
            other = col[len("p_vs_"):]
            out[f"p vs {other}"] = table[col].map(format_p)
            out[f"p ({adjustment}) vs {other}"] = table[f"p_adj_vs_{other}"].map(format_p)
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


def results_markdown(summary: pd.DataFrame, comparisons: pd.DataFrame | None = None, *, p: str = "one_sided",
                     percent: bool = True, digits: int = 1) -> str:
    """The study table (mean over findings) and one per-finding table per source, as markdown.

    The header names the interval level of ``summary`` (:func:`ci_label`).
    """
    method = "adj" if comparisons is None or "adjustment" not in comparisons else str(comparisons["adjustment"].iloc[0])
    scale = "%" if percent else "fraction"
    test = "one-sided, row init better than the other" if p == "one_sided" else "two-sided"
    parts = [f"## Mean over findings\n\nBootstrap mean ± SD [{ci_label(summary)} percentile interval], in {scale};"
             f" p: paired bootstrap, {test}, (k+1)/(B+1), over the findings both arms share; adjusted: {method}"
             " over all sources x findings x pairs.\n",
             to_markdown(format_results(results_table(summary, comparisons, p=p), percent=percent, digits=digits,
                                        adjustment=method))]
    per = results_table(summary, comparisons, per_finding=True, p=p)
    for source, part in per.groupby("source", sort=False):
        absent = [c for c in part.columns if c.startswith("p_") and part[c].isna().all()]  # arms absent here
        part = part.drop(columns=absent).reset_index(drop=True)
        text = format_results(part, percent=percent, digits=digits, adjustment=method)
        parts += [f"\n## {source}: per finding\n", to_markdown(text.drop(columns="Source"))]
    return "\n".join(parts)
