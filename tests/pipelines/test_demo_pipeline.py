"""`kedro run --env demo --pipeline demo`: six native trees, their answer keys, deterministic for a seed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TINY_DEMO, copy_project, run_kedro

SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")
#: One metadata file per source that proves the native layout was written.
MARKERS = {
    "vindr": "annotations/image_labels_train.csv",
    "nih": "Data_Entry_2017_v2020.csv",
    "chexpert": "CheXpert-v1.0/train.csv",
    "mimic": "mimic-cxr-2.0.0-metadata.csv.gz",
    "uka": "labels.csv",
    "padchest": "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv",
}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo_run(tiny_demo: Path) -> Path:
    """The session's tiny demo (generated once): read it, never write it."""
    return tiny_demo / "data" / "demo" / "01_raw"


@pytest.fixture
def project_copy(tiny_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = copy_project(tiny_demo, tmp_path / "project")
    monkeypatch.chdir(project)
    return project


def test_demo_writes_six_native_trees_with_answer_keys(demo_run: Path) -> None:
    for source in SOURCES:
        root = demo_run / source
        assert (root / MARKERS[source]).is_file(), source
        truth = pd.read_parquet(demo_run / f"{source}.truth.parquet")
        assert len(truth) > 0
        broken = truth[truth["broken"] != ""]
        assert len(broken) == 4, source
        for rel in truth.loc[truth["broken"] == "", "path"]:
            assert (root / rel).is_file(), (source, rel)
    assert not list(demo_run.glob("*.partial"))


def test_demo_is_deterministic_and_only_namespaced_sources_rerun(demo_run: Path, project_copy: Path) -> None:
    raw = project_copy / "data" / "demo" / "01_raw"
    uka = _hashes(raw / "uka")
    shutil.rmtree(raw / "nih")
    run_kedro(project_copy, env="demo", pipeline="demo", params=TINY_DEMO, namespaces=["demo.nih"])
    assert _hashes(raw / "nih") == _hashes(demo_run / "nih")  # the same seed gives the same bytes
    assert _hashes(raw / "uka") == uka


def test_demo_seed_changes_the_data(demo_run: Path, project_copy: Path) -> None:
    params = {"demo": {**TINY_DEMO["demo"], "seed": 7}}
    run_kedro(project_copy, env="demo", pipeline="demo", params=params, namespaces=["demo.vindr"])
    assert _hashes(project_copy / "data/demo/01_raw/vindr") != _hashes(demo_run / "vindr")
