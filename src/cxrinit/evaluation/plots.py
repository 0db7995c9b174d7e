"""Figures of the evaluation: ROC curves, a forest plot and a heatmap of AUROC differences.

Built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI backend): each function
returns a Figure ready for ``savefig`` or Kedro's matplotlib writer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from .metrics import auroc
from .predictions import MEAN, align_split
from .tables import ci_label


def _colors(inits: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    return {init: cmap(i % 10) for i, init in enumerate(inits)}


def significance_marks(p: float) -> str:
    """``***`` p < 0.001, ``**`` < 0.01, ``*`` < 0.05, else empty."""
    if pd.isna(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def plot_roc_curves(predictions: Mapping[str, pd.DataFrame], *, source: str, max_cols: int = 4) -> Figure:
    """Test-set ROC curves of one source: a panel per finding, a curve per init (AUROC in the legend)."""
    test = align_split(predictions, "test", source)
    n = len(test.findings)
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.2 * cols, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    colors = _colors(list(test.inits))
    for ax, (j, finding) in zip(axes, enumerate(test.findings)):
        labels = test.labels[:, j]
        keep = ~np.isnan(labels)
        for init in test.inits:
            if finding not in test.has[init]:
                continue
            if len(np.unique(labels[keep])) < 2:
                ax.text(0.5, 0.5, "single class", ha="center", transform=ax.transAxes)
                break
            fpr, tpr, _ = roc_curve(labels[keep], test.scores[init][keep, j])
            ax.plot(fpr, tpr, color=colors[init], lw=1.2,
                    label=f"{init} ({auroc(labels, test.scores[init][:, j]):.3f})")
        ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="0.6")
        ax.set(title=finding, xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
        ax.set_xlabel("1 - specificity", fontsize=8)
        ax.set_ylabel("sensitivity", fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{source}: test ROC curves")
    return fig


def plot_forest(summary: pd.DataFrame, *, metric: str = "auroc", finding: str = MEAN) -> Figure:
    """Bootstrap mean and percentile interval (the summary's ``ci_level``) of ``metric`` per source and init."""
    rows = summary[(summary["metric"] == metric) & (summary["finding"] == finding)]
    if rows.empty:
        raise ValueError(f"summary has no rows for metric {metric!r}, finding {finding!r}")
    sources = list(dict.fromkeys(rows["source"]))
    inits = list(dict.fromkeys(rows["init"]))
    colors = _colors(inits)
    fig = Figure(figsize=(6.5, 0.35 * (len(rows) + len(sources)) + 1.2), layout="constrained")
    ax = fig.subplots()
    y, ticks, labels = 0.0, [], []
    for source in sources:
        for init in inits:
            r = rows[(rows["source"] == source) & (rows["init"] == init)]
            if r.empty:
                continue
            r = r.iloc[0]
            err = [[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]]
            ax.errorbar(r["mean"], -y, xerr=err, fmt="o", color=colors[init], capsize=3, ms=4,
                        label=init if source == sources[0] or init not in ax.get_legend_handles_labels()[1] else None)
            ticks.append(-y), labels.append(f"{source} · {init}")
            y += 1
        y += 0.8
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel(f"{'mean ' if finding == MEAN else ''}{metric.upper() if metric == 'auroc' else metric}"
                  f" (bootstrap mean, {ci_label(summary)} interval)")
    ax.grid(axis="x", lw=0.4, alpha=0.6)
    handles, names = ax.get_legend_handles_labels()
    uniq = dict(zip(names, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="best")
    return fig


def plot_difference_heatmap(comparisons: pd.DataFrame, *, by: str = "source", source: str | None = None,
                            p_column: str = "p_two_sided_adj") -> Figure:
    """AUROC difference (A − B, full test set) per init pair x source (mean AUROC) or x finding.

    ``by="source"``: columns are sources, values the mean-AUROC difference. ``by="finding"``: one
    ``source``'s findings. Marks: ``p_column`` < 0.05 / 0.01 / 0.001 as * / ** / ***.
    """
    if by == "source":
        rows = comparisons[comparisons["finding"] == MEAN]
        col_key = "source"
    elif by == "finding":
        if source is None:
            raise ValueError("by='finding' needs a source")
        rows = comparisons[(comparisons["source"] == source) & (comparisons["finding"] != MEAN)]
        col_key = "finding"
    else:
        raise ValueError(f"by must be 'source' or 'finding', got {by!r}")
    if rows.empty:
        raise ValueError(f"no comparisons to plot (by={by!r}, source={source!r})")
    if p_column not in rows.columns:
        raise ValueError(f"comparisons lack {p_column!r}; run adjust_comparisons first or pick another p column")
    pair = rows["init_a"] + " − " + rows["init_b"]
    pairs, cols = list(dict.fromkeys(pair)), list(dict.fromkeys(rows[col_key]))
    diff = np.full((len(pairs), len(cols)), np.nan)
    marks = np.full(diff.shape, "", dtype=object)
    for (_, r), name in zip(rows.iterrows(), pair):
        i, j = pairs.index(name), cols.index(r[col_key])
        diff[i, j], marks[i, j] = r["diff"], significance_marks(r[p_column])
    vmax = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
    vmax = vmax or 1.0
    fig = Figure(figsize=(max(4.5, 2.0 + 0.9 * len(cols)), 1.6 + 0.5 * len(pairs)), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(diff), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    for i in range(len(pairs)):
        for j in range(len(cols)):
            if np.isfinite(diff[i, j]):
                dark = abs(diff[i, j]) > 0.6 * vmax
                ax.text(j, i, f"{diff[i, j]:+.3f}{marks[i, j]}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(pairs)), pairs, fontsize=8)
    fig.colorbar(im, ax=ax, label="AUROC difference (A − B)")
    ax.set_title("mean AUROC over common findings" if by == "source" else f"{source}: AUROC per finding", fontsize=9)
    fig.supxlabel(f"{p_column}: * < 0.05, ** < 0.01, *** < 0.001", fontsize=7)
    return fig
