"""Controls: comparisons whose outcome is known in advance, checked on the study's own adjusted p-values.

A positive control (an arm that carries real information vs one that does not) shows the chain can
detect an effect; a negative control (two arms that differ only by chance, e.g. two seeds) shows it
does not invent one. Both are read from the adjusted comparisons of the mean AUROC over the findings
the pair shares, the numbers the study table prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

COLUMNS = ["control", "kind", "source", "arm_a", "arm_b", "n_findings", "auroc_a", "auroc_b", "p_adj", "significant",
           "alpha", "status"]


def check_controls(comparisons: pd.DataFrame | None, controls: Sequence[Any]) -> pd.DataFrame:
    """One row per control and source with both arms: mean AUROCs, the adjusted p the control is judged by
    (positive: one-sided, ``arm_a`` better; negative: two-sided) and whether it is below the control's
    ``alpha``. Sources missing an arm get ``status`` "not compared". ``controls``: objects with ``kind``,
    ``arms``, ``alpha``, ``name`` (:class:`~cxrinit.config.evaluation.Control`)."""
    rows = []
    means = pd.DataFrame() if comparisons is None or comparisons.empty else comparisons[comparisons["finding"] == "mean"]
    sources = list(dict.fromkeys(means["source"])) if len(means) else []
    for control in controls:
        a, b = control.arms
        for source in sources:
            here = means[means["source"] == source]
            row = here[(here["init_a"] == a) & (here["init_b"] == b)]
            swapped = row.empty
            if swapped:
                row = here[(here["init_a"] == b) & (here["init_b"] == a)]
            base = {"control": control.name, "kind": control.kind, "source": source, "arm_a": a, "arm_b": b,
                    "alpha": control.alpha}
            if row.empty:
                rows.append({**base, "status": "not compared"})
                continue
            r = row.iloc[0]
            if control.kind == "positive":
                p = r["p_less_adj"] if swapped else r["p_greater_adj"]
            else:
                p = r["p_two_sided_adj"]
            auroc_a, auroc_b = (r["auroc_b"], r["auroc_a"]) if swapped else (r["auroc_a"], r["auroc_b"])
            significant = bool(pd.notna(p) and p < control.alpha)
            rows.append({**base, "n_findings": int(r["n_findings"]), "auroc_a": float(auroc_a),
                         "auroc_b": float(auroc_b), "p_adj": float(p) if pd.notna(p) else float("nan"),
                         "significant": significant, "status": "compared"})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["n_findings"] = table["n_findings"].astype("Int64")
    return table


def verdicts(table: pd.DataFrame, controls: Sequence[Any]) -> list[tuple[Any, bool, str]]:
    """Per control: (control, holds, one sentence saying why)."""
    out = []
    for control in controls:
        rows = table[(table["control"] == control.name) & (table["status"] == "compared")]
        hits = rows[rows["significant"].astype(bool)]
        a, b = control.arms
        if control.kind == "positive":
            holds = len(hits) >= control.min_sources
            why = (f"{a} beats {b} with adjusted p < {control.alpha:g} on {len(hits)} of {len(rows)} sources"
                   f" ({', '.join(hits['source']) or 'none'}); required: {control.min_sources}")
        else:
            holds = hits.empty
            why = (f"no {a} vs {b} difference survives correction on any of {len(rows)} sources" if holds else
                   f"{a} vs {b} differ with adjusted p < {control.alpha:g} on {', '.join(hits['source'])}")
        out.append((control, holds, why))
    return out


def controls_markdown(table: pd.DataFrame, controls: Sequence[Any], percent: bool = True) -> str:
    """The study table's "Controls" section: each control's verdict, then its numbers per source."""
    if not controls:
        return ""
    scale = 100.0 if percent else 1.0
    lines = ["## Controls\n",
             "Comparisons whose outcome is known in advance, judged on the adjusted p-values below (mean AUROC "
             "over the findings each pair shares). A positive control that fails means the setup cannot detect a "
             "real effect; a negative control that fails means it reports effects that are not there.\n"]
    for control, holds, why in verdicts(table, controls):
        lines.append(f"- **{control.name}: {'holds' if holds else 'FAILS'}**: {why}.")
    lines += ["", "| Control | Source | Findings | AUROC a | AUROC b | p (adjusted) |", "|---|---|---|---|---|---|"]
    for r in table.itertuples():
        if r.status != "compared":
            lines.append(f"| {r.control} | {r.source} | — | — | — | not compared (an arm has no cell or no predictions here: see its skipped arms) |")
            continue
        mark = " *" if r.significant else ""
        lines.append(f"| {r.control} | {r.source} | {r.n_findings} | {r.auroc_a * scale:.1f} | {r.auroc_b * scale:.1f}"
                     f" | {r.p_adj:.3g}{mark} |")
    lines.append("\n\\* below the control's alpha.\n")
    return "\n".join(lines)


__all__ = ["check_controls", "controls_markdown", "verdicts"]
