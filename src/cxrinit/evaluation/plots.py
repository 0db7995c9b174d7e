"""Figures of the evaluation: ROC curves, a forest plot and a heatmap of AUROC differences.

Built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI backend): each function
returns a Figure ready for ``savefig`` or Kedro's matplotlib writer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from .metrics import auroc
from .predictions import MEAN, align_split
from .tables import ci_label

if TYPE_CHECKING:
    from cxrinit.provenance import Provenance


#: Colour order of the study's arms: one arm keeps its colour in every figure, whichever arms a figure shows.
ARM_ORDER = ("mimic", "random", "dinov2", "imagenet21k", "ssl")


def _colors(inits: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    others = sorted(i for i in inits if i not in ARM_ORDER)
    rank = {name: k for k, name in enumerate([*ARM_ORDER, *others])}
    return {init: cmap(rank[init] % 10) for init in inits}


def footer(fig: Figure, *lines: str, provenance: Provenance | None = None) -> None:
    """Small print under a figure: what it rests on (n) and where it came from (the demo marker)."""
    import textwrap

    text = [line for line in lines if line]
    if provenance is not None:
        text.append(provenance.line())
    width = max(40, int(fig.get_figwidth() * 17))  # characters of 7-pt text that fit the figure's width
    text = [part for line in text for part in textwrap.wrap(line, width)]
    if text:
        fig.text(0.01, 0.005, "\n".join(text), fontsize=7, ha="left", va="bottom",
                 color="firebrick" if provenance is not None and provenance.synthetic else "0.3")
        bottom = 0.02 + len(text) * (7 * 1.4 / 72) / fig.get_figheight()  # 7-pt lines, in figure fractions
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))


def significance_marks(p: float) -> str:
    """``***`` p < 0.001, ``**`` < 0.01, ``*`` < 0.05, else empty."""
    if pd.isna(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def plot_roc_curves(predictions: Mapping[str, pd.DataFrame], *, source: str, max_cols: int = 4,
                    provenance: Provenance | None = None) -> Figure:
    """Test-set ROC curves of one source: a panel per finding (its positives / negatives in the title),
    a curve per init (AUROC in the legend); the footer gives n and ``provenance``."""
    test = align_split(predictions, "test", source)
    n = len(test.findings)
    cols = min(max_cols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(max(6.5, 3.2 * cols), 3.2 * rows + 0.8), layout="constrained")
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
        ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
        ax.set_title(f"{finding}\n{int((labels == 1).sum())} pos / {int((labels == 0).sum())} neg", fontsize=9)
        ax.set_xlabel("1 - specificity", fontsize=8)
        ax.set_ylabel("sensitivity", fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{source}: ROC curves on the test split ({test.n_images} images, "
                 f"{len(np.unique(test.patient_ids))} patients)")
    footer(fig, "AUROC on the full test split in the legend; dashed: chance", provenance=provenance)
    return fig


def plot_forest(summary: pd.DataFrame, *, metric: str = "auroc", finding: str = MEAN,
                provenance: Provenance | None = None) -> Figure:
    """Bootstrap mean and percentile interval (the summary's ``ci_level``) of ``metric`` per source and init.

    ``summary``: :func:`.sets.set_summary` (a row group per comparison set, labelled with its number of
    findings and test images) or :func:`.bootstrap.summarize_bootstrap` (its ``finding`` rows). A dotted
    line marks chance (0.5) for the AUROC.
    """
    by_set = "set" in summary.columns
    rows = summary[(summary["metric"] == metric) & ((summary["finding"] == finding) if not by_set else True)]
    if rows.empty:
        raise ValueError(f"summary has no rows for metric {metric!r}" + ("" if by_set else f", finding {finding!r}"))
    groups = list(dict.fromkeys(zip(rows["source"], rows["set"] if by_set else rows["finding"])))
    inits = list(dict.fromkeys(rows["init"]))
    colors = _colors(inits)
    fig = Figure(figsize=(7.5, 0.35 * (len(rows) + len(groups)) + 1.8), layout="constrained")
    ax = fig.subplots()
    y, ticks, labels = 0.0, [], []
    for source, key in groups:
        part = rows[(rows["source"] == source) & ((rows["set"] if by_set else rows["finding"]) == key)]
        for init in inits:
            r = part[part["init"] == init]
            if r.empty:
                continue
            r = r.iloc[0]
            err = [[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]]
            ax.errorbar(r["mean"], -y, xerr=err, fmt="o", color=colors[init], capsize=3, ms=4, label=init)
            what = f" ({int(r['n_findings'])} findings, n={int(r['n_images'])})" if by_set else ""
            ticks.append(-y), labels.append(f"{source}{what} · {init}")
            y += 1
        y += 0.8
    if metric == "auroc":
        ax.axvline(0.5, ls=":", lw=1, color="0.4", label="chance (0.5)")
    ax.set_yticks(ticks, labels, fontsize=8)
    name = metric.upper() if metric == "auroc" else metric
    ax.set_xlabel(f"mean {name} over the findings of each comparison set (bootstrap mean, {ci_label(summary)}"
                  " interval)" if by_set else f"{'mean ' if finding == MEAN else ''}{name}"
                  f"{' over each arm' + chr(39) + 's own findings' if finding == MEAN else ''} (bootstrap mean, "
                  f"{ci_label(summary)} interval)", fontsize=8)
    ax.grid(axis="x", lw=0.4, alpha=0.6)
    handles, names = ax.get_legend_handles_labels()
    uniq = dict(zip(names, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="best")
    ax.set_title(f"{name} per dataset and initialization", fontsize=10)
    n_res = int(rows["n_resamples"].max()) if "n_resamples" in rows else 0
    footer(fig, ("n = test images; " if by_set else "") + f"{n_res} bootstrap resamples", provenance=provenance)
    return fig


def plot_difference_heatmap(comparisons: pd.DataFrame, *, by: str = "source", source: str | None = None,
                            p_column: str = "p_two_sided_adj", n_images: Mapping[str, int] | None = None,
                            provenance: Provenance | None = None) -> Figure:
    """AUROC difference (A − B, full test set) per init pair x source (mean AUROC) or x finding.

    ``by="source"``: columns are sources, values the difference of the pair's mean AUROC over the
    findings both share. ``by="finding"``: one ``source``'s findings. Marks: ``p_column`` < 0.05 /
    0.01 / 0.001 as * / ** / ***; "n/a" where a pair was not compared or the AUROC is undefined.
    ``n_images``: test images per source, printed under the column labels.
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
    if by == "source" and n_images:  # every evaluated source, "n/a" where it has no pair
        cols = list(dict.fromkeys([*n_images, *cols]))
    diff = np.full((len(pairs), len(cols)), np.nan)
    marks = np.full(diff.shape, "", dtype=object)
    for (_, r), name in zip(rows.iterrows(), pair):
        i, j = pairs.index(name), cols.index(r[col_key])
        k = f"\n{int(r['n_findings'])} findings" if by == "source" and "n_findings" in r else ""
        diff[i, j], marks[i, j] = r["diff"], significance_marks(r[p_column]) + k
    vmax = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
    vmax = vmax or 1.0
    fig = Figure(figsize=(max(6.5, 2.5 + 0.9 * len(cols)), 2.2 + 0.5 * len(pairs)), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(diff), cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    for i in range(len(pairs)):
        for j in range(len(cols)):
            if np.isfinite(diff[i, j]):
                dark = abs(diff[i, j]) > 0.6 * vmax
                ax.text(j, i, f"{diff[i, j]:+.3f}{marks[i, j]}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
            else:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="0.45")
    n = dict(n_images or {})
    names = [f"{c}\n(n={n[c]})" if by == "source" and c in n else c for c in cols]
    ax.set_xticks(range(len(cols)), names, rotation=45 if by == "finding" else 0,
                  ha="right" if by == "finding" else "center", fontsize=8)
    ax.set_yticks(range(len(pairs)), pairs, fontsize=8)
    ax.set_facecolor("0.93")  # undefined cells: light grey with "n/a", not blank white
    bar = fig.colorbar(im, ax=ax, fraction=0.08, pad=0.02)
    bar.set_label("AUROC A − B", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    title = ("difference in mean AUROC over the findings each pair shares" if by == "source" else
             f"{source}: AUROC difference per finding (test split" + (f", n={n[source]})" if source in n else ")"))
    ax.set_title(title, fontsize=9)
    footer(fig, "values: A − B on the full test split (point estimates; the study table shows bootstrap means); "
           f"marks: {p_column} < 0.05 *, < 0.01 **, < 0.001 ***; n/a: not compared or undefined",
           provenance=provenance)
    return fig
