"""The whole study on the demo in one `kedro run --env demo`: demo data to the study table, all tracked."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import TINY_DEMO, make_project, run_kedro

pytestmark = pytest.mark.slow

SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")
QUICK = {**TINY_DEMO, "pretraining": {"train": {"epochs": 1}}, "finetuning": {"train": {"epochs": 1}},
         "evaluation": {"n_resamples": 100}}


def test_one_command_runs_the_whole_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          _mlflow_store: Path) -> None:
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    run_kedro(project, env="demo", params=QUICK)

    table = pd.read_csv(project / "data/demo/08_reporting/evaluation/study_table.csv")
    cells = set(zip(table["source"], table["init"]))
    assert {(s, "random") for s in SOURCES} <= cells
    assert {(s, "mimic") for s in SOURCES if s != "mimic"} <= cells
    assert not any(init in {"dinov2", "imagenet21k"} for _, init in cells)
    report = (project / "data/demo/08_reporting/evaluation/study_table.md").read_text()
    assert report.startswith("## Mean over findings")
    for init in ("dinov2", "imagenet21k"):
        card = json.loads((project / f"data/demo/06_models/vindr/{init}.card.json").read_text())
        assert card["skipped"] and f"finetuning.registry.{init}.file" in card["reason"]

    mlflow.set_tracking_uri(f"sqlite:///{_mlflow_store / 'mlflow.db'}")
    client = MlflowClient()
    names = {m.name for m in client.search_registered_models(max_results=100)}
    assert {f"cxrinit-{s}-random" for s in SOURCES} <= names
    assert {f"cxrinit-init-mimic-{s}" for s in SOURCES if s != "mimic"} <= names
    experiment = client.get_experiment_by_name("cxrinit")
    parents = client.search_runs([experiment.experiment_id], "tags.stage = 'kedro_run'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = client.search_runs([experiment.experiment_id], "tags.stage = 'finetuning'", max_results=200)
    assert all(c.data.tags["kedro.parent_run"] == parents[0].info.run_id for c in children)
