"""`kedro run --env demo --pipeline ingestion`: manifests, pixel stores and reports for the six demo sources."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxrinit.datasets import StoreSet
from tests.conftest import copy_project, run_kedro
from tests.docs import doc_commands, with_env

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
        store = StoreSet(ingested / f"data/demo/03_primary/{source}/pixels")[32]
        assert list(store.index["image_id"]) == list(manifest["image_id"])
        ok = store.ok
        assert ok.sum() == len(manifest) - 4
        assert store.images.shape[1:] == (32, 32)
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


def _as_kaggle_copy(physionet: Path, kaggle: Path) -> None:
    """The demo's VinDr rewritten as the Kaggle competition copy: train/ and test/ DICOMs, a box table."""
    import shutil

    from cxrinit.sources.vindr import KAGGLE_CLASSES

    shutil.copytree(physionet / "train", kaggle / "train")
    shutil.copytree(physionet / "test", kaggle / "test")
    votes = pd.read_csv(physionet / "annotations/image_labels_train.csv")
    rows = []
    for _, r in votes.iterrows():
        found = [c for c in KAGGLE_CLASSES if c != "No finding" and r.get(c, 0) == 1]
        rows += [{"image_id": r["image_id"], "class_name": c, "class_id": KAGGLE_CLASSES.index(c),
                  "rad_id": r["rad_id"], "x_min": 1, "y_min": 2, "x_max": 30, "y_max": 40} for c in found]
        if not found:
            rows.append({"image_id": r["image_id"], "class_name": "No finding", "class_id": 14, "rad_id": r["rad_id"]})
    pd.DataFrame(rows).to_csv(kaggle / "train.csv", index=False)


def test_the_vindr_kaggle_copy_runs_as_a_source_of_its_own(ingested: Path, tmp_path: Path) -> None:
    """Configuration only: a second VinDr dataset in the Kaggle layout, read with the vindr format."""
    import yaml

    project = copy_project(ingested, tmp_path / "project")
    raw = project / "data/demo/01_raw"
    _as_kaggle_copy(raw / "vindr", raw / "vindr_kaggle")
    demo = project / "conf" / "demo"
    labels = yaml.safe_load((project / "conf/base/labels.yml").read_text())["labels"]
    (demo / "labels.yml").write_text(yaml.safe_dump({"labels": {
        "sources": {"vindr_kaggle": labels["sources"]["vindr"]},
        "policies": {"vindr_kaggle": labels["policies"]["vindr"]},
        "splits": {"vindr_kaggle": labels["splits"]["vindr"]},          # use_official: true, and there is none
        "label_sets": {"study": {"vindr_kaggle": labels["label_sets"]["study"]["vindr"]},
                       "mimic_shared": {"vindr_kaggle": labels["label_sets"]["mimic_shared"]["vindr"]}}}}))
    (demo / "parameters_sources.yml").write_text(yaml.safe_dump({"sources": {"vindr_kaggle": {"format": "vindr"}}}))
    globals_ = yaml.safe_load((demo / "globals.yml").read_text())
    globals_["raw_roots"]["vindr_kaggle"] = "${data_dir}/01_raw/vindr_kaggle"
    (demo / "globals.yml").write_text(yaml.safe_dump(globals_))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for stage in ("ingestion", "harmonization"):
            run_kedro(project, env="demo", pipeline=stage, namespaces=["vindr_kaggle"])
    out = project / "data/demo"
    counts = pd.read_csv(out / "08_reporting/ingestion/vindr_kaggle_counts.csv").set_index("key")["images"]
    assert counts["note/kaggle_test_images_without_labels"] > 0
    labels_ = pd.read_parquet(out / "05_model_input/vindr_kaggle/labels.parquet")
    assert labels_["pneumonia"].isna().all() and labels_["cardiomegaly"].notna().all()  # lacking: NaN, never 0
    splits = pd.read_parquet(out / "05_model_input/vindr_kaggle/splits.parquet")
    assert {"train", "test"} <= set(splits["split"])            # test carved patient-wise from labelled images
    assert set(splits["image_id"]) <= set(pd.read_parquet(out / "02_intermediate/vindr/manifest.parquet")
                                          .query("official_split == 'train'")["image_id"])


def test_a_tree_without_its_images_costs_no_disk_says_so_last_and_still_harmonizes(
        tiny_demo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Metadata downloaded, images not yet: one line at the end, an empty store, label counts anyway."""
    project = copy_project(tiny_demo, tmp_path / "project")
    raw = project / "data/demo/01_raw/nih"
    for image in raw.glob("images_*/images/*.png"):
        image.unlink()
    with pytest.MonkeyPatch.context() as mp, caplog.at_level("WARNING"):
        mp.chdir(project)
        # 256 px: an array of many file-system blocks (the demo's 32 px array would fit in a few)
        run_kedro(project, env="demo", pipeline="ingestion", namespaces=["nih"],
                  params={"ingestion": {"sizes": [256]}, "finetuning": {"store_size": 256},
                          "pretraining": {"store_size": 256}, "selfsupervised": {"store_size": 256}})
    manifest = pd.read_parquet(project / "data/demo/02_intermediate/nih/manifest.parquet")
    last = caplog.records[-1].getMessage()
    assert last.startswith("at the end of the run: nih: ") and f"of {len(manifest)} images (100%) are missing" in last
    first = manifest["path"].iloc[0]
    assert f"the first data/demo/01_raw/nih/{first};" in last and "harmonization.use_pixel_store: false" in last
    assert last.endswith("(`kedro run --env demo --pipelines ingestion --namespaces nih`)")  # as you would type it
    summary = (project / "data/demo/08_reporting/ingestion/nih_summary.md").read_text()
    assert "are missing" in summary
    images = project / "data/demo/03_primary/nih/pixels/256/images.npy"
    assert images.stat().st_blocks * 512 < images.stat().st_size / 4  # holes, not zeros written

    # docs/datasets.md's two commands (manifest only, then harmonization without the store), on the demo
    shutil.rmtree(project / "data/demo/03_primary/nih")
    for _, command in doc_commands("docs/datasets.md", "tests/pipelines/test_ingestion_pipeline.py"):
        done = subprocess.run(shlex.split(with_env(command, "demo")), cwd=project, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    assert not (project / "data/demo/03_primary/nih").exists()  # the manifest alone: no store was written
    labels = pd.read_parquet(project / "data/demo/05_model_input/nih/labels.parquet")
    drops = _drops(project / "data/demo/08_reporting/harmonization/nih_drops.parquet")
    assert len(labels) > 0 and "not_stored" not in set(drops["reason"])
    assert len(labels) + len(drops) == len(manifest)  # every manifest image labelled or dropped for a label reason


def _drops(path: Path) -> pd.DataFrame:
    """The drop table; a run that dropped nothing writes none (OptionalDataset)."""
    return pd.read_parquet(path) if path.exists() else pd.DataFrame({"reason": pd.Series(dtype=str)})
