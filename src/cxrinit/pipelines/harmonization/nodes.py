"""Nodes of the ``harmonization`` pipeline: native labels -> 1/0/NaN per finding, splits, label reports."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from cxrinit.datasets import StoreSet
from cxrinit.imaging import Status
from cxrinit.labels import harmonize_labels, label_report, make_splits, ontology_from_dict, prevalence_heatmap

log = logging.getLogger(__name__)


def _source_overrides(harmonization: dict[str, Any], source: str, key: str) -> dict[str, Any] | None:
    return ((harmonization.get(key) or {}).get(source)) or None


def harmonize_source(manifest: pd.DataFrame, images: StoreSet, ontology: dict, harmonization: dict[str, Any],
                     source: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labels and splits of every stored image of ``source``; returns (labels, splits, dropped, report).

    Images the pixel store quarantined are dropped first (reason ``not_stored``); then the policies of
    ``harmonization.preset`` (labels.yml) apply. Splits are patient-wise over the whole manifest, so a
    patient's split never depends on which of their images a policy kept.
    """
    onto = ontology_from_dict(ontology, origin="conf/base/labels.yml")
    preset = harmonization.get("preset", "default")
    status = images.index.set_index("image_id")["status"]
    stored = manifest["image_id"].map(status).eq(Status.OK.value).to_numpy()
    not_stored = manifest.loc[~stored, ["image_id"]].assign(
        reason="not_stored", detail="pixel store status " + manifest.loc[~stored, "image_id"].map(status).astype(str))
    result = harmonize_labels(manifest[stored], onto, source, preset=preset,
                              label_set=harmonization.get("label_set", "all"),
                              overrides=_source_overrides(harmonization, source, "policy_overrides"))
    split_args = onto.split_policy(source, preset, _source_overrides(harmonization, source, "split_overrides"))
    splits = make_splits(manifest, seed=int(harmonization["seed"]), source=source, **split_args)
    splits = splits[splits["image_id"].isin(result.labels["image_id"])].reset_index(drop=True)
    dropped = pd.concat([not_stored, result.dropped], ignore_index=True).assign(source=source)
    report = label_report(source, result.labels, splits)
    log.info("%s: %d labelled images, %d dropped (%s); splits %s", source, len(result.labels), len(dropped),
             dropped["reason"].value_counts().to_dict(), splits["split"].value_counts().to_dict())
    return result.labels, splits, dropped[["source", "image_id", "reason", "detail"]], report


def summarize_labels(*reports: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """The label reports of the sources harmonized so far in one table, and the prevalence heatmap."""
    table = pd.concat([r for r in reports if len(r)], ignore_index=True)
    return table, prevalence_heatmap(table, title="Prevalence per dataset (all splits)")


def summarize_drops(*dropped: pd.DataFrame) -> pd.DataFrame:
    """Images dropped by harmonization, counted per source and reason."""
    table = pd.concat([d for d in dropped if len(d)], ignore_index=True)
    return table.groupby(["source", "reason"]).size().rename("images").reset_index()
