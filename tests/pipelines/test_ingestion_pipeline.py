"""`kedro run --env demo --pipeline ingestion`: manifests, pixel stores and reports for the six demo sources."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxrinit.datasets import StoreSet
from tests.conftest import copy_project, run_kedro

SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")


def _truth_key(native_id: str) -> str:
    """The manifest image_id of a demo file: native id without extension (and CheXpert's top folder)."""
    return re.sub(r"^CheXpert-v1\.0(-small)?/", "", re.sub(r"\.(png|jpg|dcm|dicom)$", "", native_id))


@pytest.fixture(scope="module")
def ingested(tiny_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tiny_demo, tmp_path_factory.mktemp("ingest") / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        run_kedro(project, env="demo", pipeline="ingestion")
    return project


def test_report_lists_exactly_the_deliberately_broken_files(ingested: Path) -> None:
    for source in SOURCES:
        truth = pd.read_parquet(ingested / f"data/demo/01_raw/{source}.truth.parquet")
        broken = truth[truth["broken"] != ""]
        expected = sorted(zip(broken["native_id"].map(_truth_key), broken["broken"]))
        report = pd.read_parquet(ingested / f"data/demo/08_reporting/ingestion/{source}_report.parquet")
        assert sorted(zip(report["image_id"], report["reason"])) == expected, source
        summary = (ingested / f"data/demo/08_reporting/ingestion/{source}_summary.md").read_text()
        for image_id, reason in expected:
            assert image_id in summary and reason in summary


def test_every_good_image_is_stored_and_counted(ingested: Path) -> None:
    for source in SOURCES:
        manifest = pd.read_parquet(ingested / f"data/demo/02_intermediate/{source}/manifest.parquet")
        store = StoreSet(ingested / f"data/demo/03_primary/{source}/pixels")[64]
        assert list(store.index["image_id"]) == list(manifest["image_id"])
        ok = store.ok
        assert ok.sum() == len(manifest) - 4
        assert store.images.shape[1:] == (64, 64)
        assert all(store.images[r].std() > 10 for r in np.flatnonzero(ok)[:20]), source
        counts = pd.read_csv(ingested / f"data/demo/08_reporting/ingestion/{source}_counts.csv")
        stored = counts[(counts["group"] == "total") & (counts["key"] == "stored_ok")]["images"].item()
        assert stored == ok.sum()
        views = counts[counts["group"] == "view"]["images"].sum()
        assert views == ok.sum()


def test_one_namespace_and_view_filter_are_reported(ingested: Path, tmp_path: Path) -> None:
    project = copy_project(ingested, tmp_path / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        params = {"sources": {"mimic": {"views": ["PA", "AP"]}}}
        before = (project / "data/demo/08_reporting/ingestion/nih_report.parquet").stat().st_mtime_ns
        run_kedro(project, env="demo", pipeline="ingestion", namespaces=["mimic"], params=params)
    assert (project / "data/demo/08_reporting/ingestion/nih_report.parquet").stat().st_mtime_ns == before
    report = pd.read_parquet(project / "data/demo/08_reporting/ingestion/mimic_report.parquet")
    filtered = report[report["stage"] == "filter"]
    assert len(filtered) > 0 and set(filtered["reason"]) == {"view_filter"}
    manifest = pd.read_parquet(project / "data/demo/02_intermediate/mimic/manifest.parquet")
    assert set(manifest["view"]) <= {"PA", "AP"}
    store = StoreSet(project / "data/demo/03_primary/mimic/pixels")
    assert list(store.index["image_id"]) == list(manifest["image_id"])


def test_reader_notes_reach_the_report(ingested: Path) -> None:
    counts = pd.read_csv(ingested / "data/demo/08_reporting/ingestion/padchest_counts.csv")
    metadata = counts[counts["group"] == "metadata"].set_index("key")["images"]
    assert metadata["read/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"] > 0
    assert any(k.startswith("note/") for k in metadata.index)  # the demo's label-cell quirks are counted
    assert "metadata (rows read per file, notes)" in (ingested / "data/demo/08_reporting/ingestion/padchest_summary.md").read_text()
