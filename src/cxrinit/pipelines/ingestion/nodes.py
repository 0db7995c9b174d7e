"""Nodes of the ``ingestion`` pipeline: native metadata -> manifest, pixels -> store, and the report."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from cxrinit.config import IngestionSettings, SourceSettings
from cxrinit.datasets import StoreBuild, StoreSet
from cxrinit.imaging import Status
from cxrinit.sources import read_source

log = logging.getLogger(__name__)

#: Columns of the per-image ingestion report.
REPORT_COLUMNS = ["source", "image_id", "path", "stage", "reason", "detail"]


def read_metadata(root: Path, settings: SourceSettings, ingestion: IngestionSettings,
                  source: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Read ``source``'s native metadata into the manifest; returns (manifest, rows not kept and why, counts).

    The reader is the source's format (``sources.<source>.format``, default its name) with its view
    map and options. Rows the reader rejects (escaping paths, duplicate ids, ...) and rows dropped by
    the view filter (``sources.<source>.views``, else ``ingestion.views``) are all returned with their
    reason. The reader's counts (rows per metadata file, quirks such as PadChest label-cell problems)
    go to the report.
    """
    table = read_source(settings.format or source, root, source=source, view_map=settings.view_map,
                        **settings.options)
    dropped = [table.rejected.assign(source=source, stage="metadata")]
    manifest = table.manifest
    views = list(settings.views or ingestion.views)
    keep = manifest["view"].isin(views)
    if not keep.all():
        off = manifest[~keep]
        dropped.append(pd.DataFrame({
            "source": source, "image_id": off["image_id"], "path": off["path"], "stage": "filter",
            "reason": "view_filter", "detail": "view " + off["view"] + f" not in the ingested views {views}",
        }))
        manifest = manifest[keep].reset_index(drop=True)
    drops = pd.concat(dropped, ignore_index=True)[REPORT_COLUMNS]
    log.info("%s: %d images in the manifest, %d rows not kept (%s)", source, len(manifest), len(drops),
             drops["reason"].value_counts().to_dict())
    return manifest, drops, {str(k): int(v) for k, v in table.counts.items()}


def plan_pixel_store(manifest: pd.DataFrame, root: Path, ingestion: IngestionSettings) -> StoreBuild:
    """What to decode into the pixel store: every manifest image, at every configured size."""
    return StoreBuild(items=manifest[["image_id", "path"]], root=Path(root), sizes=tuple(ingestion.sizes),
                      recipe=ingestion.recipe, workers=ingestion.workers,
                      rebuild_on_change=ingestion.rebuild_on_change)


def _counts(source: str, manifest: pd.DataFrame, index: pd.DataFrame, report: pd.DataFrame,
            reader: dict[str, int]) -> pd.DataFrame:
    status = index.set_index("image_id")["status"]
    stored = manifest.assign(status=manifest["image_id"].map(status).fillna("not_in_store"))
    ok = stored[stored["status"] == Status.OK.value]
    parts = [
        ("status", stored["status"].value_counts()),
        ("view", ok["view"].value_counts()),
        ("split", ok["official_split"].fillna("none").replace({"<NA>": "none", "nan": "none"}).value_counts()),
        ("dropped", (report["stage"] + "/" + report["reason"]).value_counts()),
        ("metadata", pd.Series(reader, dtype="int64")),
    ]
    rows = [{"source": source, "group": group, "key": str(key), "images": int(n)}
            for group, series in parts for key, n in series.items()]
    rows.append({"source": source, "group": "total", "key": "stored_ok", "images": len(ok)})
    return pd.DataFrame(rows, columns=["source", "group", "key", "images"])


def _summary(source: str, report: pd.DataFrame, counts: pd.DataFrame) -> str:
    def table(group: str) -> list[str]:
        part = counts[counts["group"] == group]
        return [f"| {k} | {n} |" for k, n in zip(part["key"], part["images"])] or ["| (none) | 0 |"]

    ok = int(counts.loc[counts["key"] == "stored_ok", "images"].sum())
    quarantined = report[report["stage"] != "filter"]
    lines = [
        f"# Ingestion report: {source}", "",
        f"- images stored: **{ok}**",
        f"- quarantined: **{len(quarantined)}** (metadata {int((report['stage'] == 'metadata').sum())}, "
        f"pixels {int((report['stage'] == 'pixels').sum())})",
        f"- dropped by filters: **{int((report['stage'] == 'filter').sum())}**", "",
        "| view | images |", "|---|---|", *table("view"), "",
        "| official split | images |", "|---|---|", *table("split"), "",
        "| dropped (stage/reason) | images |", "|---|---|", *table("dropped"), "",
        "| metadata (rows read per file, notes) | rows |", "|---|---|", *table("metadata"), "",
    ]
    if len(quarantined):
        lines += ["## Quarantined images", "", "| image_id | path | reason | detail |", "|---|---|---|---|"]
        for r in quarantined.head(50).itertuples():
            detail = str(r.detail).replace("|", "/").replace("\n", " ")[:160]
            lines.append(f"| {r.image_id} | {r.path} | {r.reason} | {detail} |")
        if len(quarantined) > 50:
            lines.append(f"| … | {len(quarantined) - 50} more in the parquet report | | |")
    return "\n".join(lines) + "\n"


#: ``extra`` of a log record that :class:`cxrinit.hooks.ProjectHooks` repeats when the run ends.
END_OF_RUN = {"cxrinit_end_of_run": True}


def missing_images_notice(source: str, root: Path, manifest: pd.DataFrame, report: pd.DataFrame) -> str | None:
    """One line when most of ``source``'s manifest images are missing on disk (else None).

    Counts, the first missing file (under ``root``) and what to do: the usual case is a metadata
    download whose images are still to come, which is worth a line at the end of the run, not only
    a row per image in the report.
    """
    gone = report[(report["stage"] == "pixels") & (report["reason"] == Status.MISSING.value)]
    if not len(manifest) or 2 * len(gone) <= len(manifest):
        return None
    first = Path(root) / str(gone["path"].iloc[0])
    return (f"{source}: {len(gone):,} of {len(manifest):,} images ({len(gone) / len(manifest):.0%}) are missing, "
            f"the first {first}; the pixel store keeps their rows empty (no disk). Once they are downloaded, "
            f"running the ingestion of {source} again stores them; until then "
            "harmonization.use_pixel_store: false gives label counts from the metadata alone.")


def report_ingestion(manifest: pd.DataFrame, metadata_drops: pd.DataFrame, reader_counts: dict[str, int],
                     images: StoreSet, root: Path, source: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Every image not stored, with stage and reason; counts per status, view, split and reason; a summary.

    When most images are missing, :func:`missing_images_notice` is logged and repeated at the end of the run.
    """
    index = images.index
    bad = index[index["status"] != Status.OK.value].merge(manifest[["image_id", "path"]], on="image_id", how="left")
    pixels = pd.DataFrame({"source": source, "image_id": bad["image_id"], "path": bad["path"], "stage": "pixels",
                           "reason": bad["status"], "detail": bad["detail"]})
    report = pd.concat([metadata_drops, pixels], ignore_index=True)[REPORT_COLUMNS]
    counts = _counts(source, manifest, index, report, reader_counts)
    summary = _summary(source, report, counts)
    log.info("%s ingestion: %d stored, %d quarantined, %d filtered", source,
             int(counts.loc[counts["key"] == "stored_ok", "images"].sum()),
             int((report["stage"] != "filter").sum()), int((report["stage"] == "filter").sum()))
    notice = missing_images_notice(source, root, manifest, report)
    if notice:
        log.warning(notice, extra={**END_OF_RUN, "cxrinit_rerun": f"--pipelines ingestion --namespaces {source}"})
        summary = summary.replace("\n\n", f"\n\n> {notice}\n\n", 1)
    return report, counts, summary
