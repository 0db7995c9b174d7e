"""Reports on harmonized labels: counts per source / split / finding, drops by reason, and a
prevalence heatmap across datasets x findings (a matplotlib Figure on the Agg canvas)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .harmonize import HarmonizeResult
from .splits import SPLITS

REPORT_COLUMNS: tuple[str, ...] = ("source", "split", "finding", "images", "patients", "positives", "negatives",
                                   "masked", "prevalence")
ALL = "all"
UNASSIGNED = "unassigned"


def label_report(source: str, labels: pd.DataFrame, splits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy counts: one row per (split, finding), splits ``train/val/test`` (+ ``unassigned`` for
    labelled images without a split) and ``all``. ``prevalence`` = positives / (positives + negatives);
    ``patients`` is NaN without ``splits`` (they carry the patient ids)."""
    findings = [c for c in labels.columns if c != "image_id"]
    frame = labels.copy()
    if splits is not None:
        lookup = splits.drop_duplicates("image_id").set_index("image_id")
        frame["split"] = frame["image_id"].map(lookup["split"]).astype(object).fillna(UNASSIGNED)
        frame["patient_id"] = frame["image_id"].map(lookup["patient_id"])
    else:
        frame["split"] = UNASSIGNED
        frame["patient_id"] = pd.NA
    rows = []
    groups = [(s, frame[frame["split"] == s]) for s in (*SPLITS, UNASSIGNED)]
    groups = [(s, g) for s, g in groups if len(g) or s in SPLITS] + [(ALL, frame)]
    for split, group in groups:
        values = group[findings].to_numpy(dtype=np.float64) if findings else np.empty((len(group), 0))
        pos = (values == 1).sum(axis=0)
        neg = (values == 0).sum(axis=0)
        masked = np.isnan(values).sum(axis=0)
        patients = int(group["patient_id"].nunique()) if splits is not None else np.nan
        for i, finding in enumerate(findings):
            known = pos[i] + neg[i]
            rows.append((source, split, finding, len(group), patients, int(pos[i]), int(neg[i]), int(masked[i]),
                         pos[i] / known if known else np.nan))
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def drop_report(results: Mapping[str, HarmonizeResult] | Sequence[HarmonizeResult]) -> pd.DataFrame:
    """``source, reason, images``: every image a policy dropped, by reason (zero rows included), plus
    ``kept`` per source, so ``images_in`` = the sum per source."""
    items = results.values() if isinstance(results, Mapping) else results
    rows = []
    for result in items:
        for key, n in result.counts.items():
            if key.startswith("dropped/"):
                rows.append((result.source, key.split("/", 1)[1], int(n)))
        rows.append((result.source, "kept", int(result.counts["images_out"])))
    return pd.DataFrame(rows, columns=["source", "reason", "images"])


def prevalence_heatmap(report: pd.DataFrame, *, split: str = ALL, title: str | None = None,
                       provenance: Any = None) -> Figure:
    """Datasets x findings heatmap of prevalence (%) in ``split``; grey 'n/a' where a dataset has no
    known label for the finding (not annotated or all masked). Each dataset's row names its images;
    ``provenance`` (:class:`cxrinit.provenance.Provenance`) goes in the footer."""
    part = report[report["split"] == split]
    if part.empty:
        raise ValueError(f"prevalence_heatmap: the report has no rows for split {split!r}; "
                         f"splits present: {sorted(report['split'].unique())}")
    sources = list(dict.fromkeys(part["source"]))
    findings = list(dict.fromkeys(part["finding"]))
    grid = part.pivot_table(index="source", columns="finding", values="prevalence", aggfunc="first",
                            dropna=False).reindex(index=sources, columns=findings)
    values = grid.to_numpy(dtype=np.float64)
    fig = Figure(figsize=(max(6.0, 0.55 * len(findings) + 2.5), max(2.5, 0.5 * len(sources) + 1.8)),
                 layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("0.85")
    vmax = max(0.05, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(values * 100), cmap="viridis", vmin=0.0, vmax=100 * vmax, aspect="auto")
    for (r, c), v in np.ndenumerate(values):
        # dark text on the bright end of viridis, white elsewhere, grey on the n/a cells
        color = "0.3" if np.isnan(v) else ("black" if v / vmax > 0.6 else "white")
        ax.text(c, r, "n/a" if np.isnan(v) else f"{100 * v:.1f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(findings)), findings, rotation=60, ha="right", fontsize=8)
    images = part.drop_duplicates("source").set_index("source")["images"]
    ax.set_yticks(range(len(sources)), [f"{s} (n={int(images[s])})" for s in sources], fontsize=8)
    ax.set_title(title or f"Prevalence (%) per dataset and finding, split: {split}", fontsize=10)
    fig.colorbar(image, ax=ax, label="prevalence (%)")
    if provenance is not None:
        from cxrinit.evaluation.plots import footer

        footer(fig, "n = labelled images; % of images with a known label that are positive", provenance=provenance)
    return fig
