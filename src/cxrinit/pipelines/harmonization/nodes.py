"""Nodes of the ``harmonization`` pipeline: native labels -> 1/0/NaN per finding, splits, label reports."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from cxrinit.config import HarmonizationSettings, LabelSettings
from cxrinit.datasets import StoreSet
from cxrinit.imaging import Status
from cxrinit.labels import harmonize_labels, label_report, make_splits, prevalence_heatmap
from cxrinit.provenance import Provenance

log = logging.getLogger(__name__)


def harmonize_source(manifest: pd.DataFrame, labels: LabelSettings, harmonization: HarmonizationSettings,
                     source: str, images: StoreSet | None = None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labels and splits of every stored image of ``source``; returns (labels, splits, dropped, report).

    Images the pixel store quarantined are dropped first (reason ``not_stored``); then the policies of
    ``harmonization.preset`` (labels.yml) apply. Splits are patient-wise over the whole manifest, so a
    patient's split never depends on which of their images a policy kept. Without ``images``
    (``harmonization.use_pixel_store: false``) every manifest image is harmonized: the counts are
    those of the metadata, before any image is decoded.
    """
    onto = labels.ontology
    preset = harmonization.preset
    if images is None:
        stored = pd.Series(True, index=manifest.index).to_numpy()
        not_stored = pd.DataFrame({"image_id": pd.Series(dtype=str), "reason": pd.Series(dtype=str),
                                   "detail": pd.Series(dtype=str)})
        log.info("%s: harmonizing the manifest alone (harmonization.use_pixel_store: false); "
                 "images the pixel store would quarantine are counted as labelled", source)
    else:
        status = images.index.set_index("image_id")["status"]
        stored = manifest["image_id"].map(status).eq(Status.OK.value).to_numpy()
        not_stored = manifest.loc[~stored, ["image_id"]].assign(
            reason="not_stored",
            detail="pixel store status " + manifest.loc[~stored, "image_id"].map(status).astype(str))
    result = harmonize_labels(manifest[stored], onto, source, preset=preset, label_set=harmonization.label_set,
                              overrides=harmonization.policy_overrides.get(source) or None)
    split_args = onto.split_policy(source, preset, harmonization.split_overrides.get(source) or None)
    splits = make_splits(manifest, seed=harmonization.seed, source=source, **split_args)
    splits = splits[splits["image_id"].isin(result.labels["image_id"])].reset_index(drop=True)
    dropped = pd.concat([d for d in (not_stored, result.dropped) if len(d)] or [not_stored],
                        ignore_index=True).assign(source=source)
    report = label_report(source, result.labels, splits)
    log.info("%s: %d labelled images, %d dropped (%s); splits %s", source, len(result.labels), len(dropped),
             dropped["reason"].value_counts().to_dict(), splits["split"].value_counts().to_dict())
    return result.labels, splits, dropped[["source", "image_id", "reason", "detail"]], report


def summarize_labels(provenance: Provenance, **reports: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """The label reports (keyed by source) of the sources harmonized so far in one table, and the heatmap
    (with ``provenance`` in its footer)."""
    table = pd.concat([r for r in reports.values() if len(r)], ignore_index=True)
    return table, prevalence_heatmap(table, title="Prevalence per dataset (all splits)", provenance=provenance)


def summarize_drops(**dropped: pd.DataFrame) -> pd.DataFrame:
    """Images dropped by harmonization (keyed by source), counted per source and reason (none: an empty table)."""
    parts = [d for d in dropped.values() if len(d)]
    if not parts:
        return pd.DataFrame({"source": pd.Series(dtype=str), "reason": pd.Series(dtype=str),
                             "images": pd.Series(dtype="int64")})
    table = pd.concat(parts, ignore_index=True)
    return table.groupby(["source", "reason"]).size().rename("images").reset_index()
