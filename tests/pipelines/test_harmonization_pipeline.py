"""`kedro run --env demo --pipeline harmonization`: labels, splits and reports for the six demo sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_SPLITS, copy_project, run_kedro

SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")


@pytest.fixture(scope="module")
def harmonized(tiny_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tiny_demo, tmp_path_factory.mktemp("harmonize") / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        run_kedro(project, env="demo", pipeline="ingestion")
        run_kedro(project, env="demo", pipeline="harmonization", params=TINY_SPLITS)
    return project


def test_labels_and_splits_for_every_stored_image(harmonized: Path) -> None:
    for source in SOURCES:
        labels = pd.read_parquet(harmonized / f"data/demo/05_model_input/{source}/labels.parquet")
        splits = pd.read_parquet(harmonized / f"data/demo/05_model_input/{source}/splits.parquet")
        drops = pd.read_parquet(harmonized / f"data/demo/08_reporting/harmonization/{source}_drops.parquet")
        manifest = pd.read_parquet(harmonized / f"data/demo/02_intermediate/{source}/manifest.parquet")
        assert set(labels["image_id"]) == set(splits["image_id"])
        # nothing lost: every manifest image is labelled or dropped with a reason
        assert len(labels) + len(drops) == len(manifest), source
        assert (drops["reason"] == "not_stored").sum() == 4
        values = labels.drop(columns="image_id").to_numpy(dtype=float)
        assert np.isin(values[~np.isnan(values)], [0.0, 1.0]).all()
        assert set(splits["split"]) <= {"train", "val", "test"} and "train" in set(splits["split"])
        assert splits.groupby("patient_id")["split"].nunique().max() == 1, source


def test_unannotated_findings_are_masked_not_negative(harmonized: Path) -> None:
    nih = pd.read_parquet(harmonized / "data/demo/05_model_input/nih/labels.parquet")
    assert "lung_opacity" not in nih.columns or nih["lung_opacity"].isna().all()
    chexpert = pd.read_parquet(harmonized / "data/demo/02_intermediate/chexpert/manifest.parquet")
    assert set(chexpert["view"]) >= {"LATERAL"}
    drops = pd.read_csv(harmonized / "data/demo/08_reporting/harmonization/drops.csv")
    assert {"view_filter", "not_stored"} <= set(drops.loc[drops["source"] == "chexpert", "reason"])


def test_reports_and_heatmap(harmonized: Path) -> None:
    table = pd.read_csv(harmonized / "data/demo/08_reporting/harmonization/prevalence.csv")
    assert set(table["source"]) == set(SOURCES)
    assert {"positives", "negatives", "masked", "patients", "prevalence"} <= set(table.columns)
    png = harmonized / "data/demo/08_reporting/harmonization/prevalence.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paper_preset_and_split_seed(harmonized: Path, tmp_path: Path) -> None:
    project = copy_project(harmonized, tmp_path / "project")
    def splits() -> set[str]:
        return set().union(*(pd.read_parquet(project / f"data/demo/05_model_input/{s}/splits.parquet")["split"]
                             for s in SOURCES))

    assert "val" in splits()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        run_kedro(project, env="demo", pipeline="harmonization",
                  # the demo's split overrides would win over the preset's: set them as the study had them
                  params={"harmonization": {"preset": "paper", "split_overrides": {
                      s: {**o, "val_fraction": 0.0} for s, o in TINY_SPLITS["harmonization"]["split_overrides"].items()}}})
    assert splits() == {"train", "test"}  # the study had no validation split
