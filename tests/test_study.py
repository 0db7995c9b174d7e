"""The whole study on the demo in one `kedro run --env demo`: demo data to the study table, all tracked."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from cxrinit.inference import predict_files
from tests.conftest import make_project, run_kedro
from tests.docs import doc_commands

pytestmark = pytest.mark.slow

SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")
#: The demo's arms that need public weights: skipped here, each with how to provide the file.
HUB = ("dinov2", "imagenet21k", "dinov3", "rad_dino", "cxformer")


def test_one_command_runs_the_whole_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the project's own store (the demo's: data/demo/mlflow.db)
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    ((_, command),) = doc_commands("README.md", "tests/test_study.py")
    assert command == "kedro run --env demo"
    # the README's command as it stands: the demo is a controlled experiment, so its own sizes are what is tested
    run = subprocess.run(shlex.split(command), cwd=project, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-4000:]
    store = project / "data/demo/mlflow.db"

    # Both controls hold, re-checked from the pipeline's own comparisons (not from its verdict)
    comparisons = pd.read_csv(project / "data/demo/08_reporting/evaluation/comparisons.csv")
    means = comparisons[comparisons["finding"] == "mean"]
    positive = means[(means["init_a"] == "mimic") & (means["init_b"] == "random")]
    assert len(positive) == 5 and (positive["p_greater_adj"] < 0.05).sum() >= 3, positive
    # ... and the good arm is good: mean test AUROC above 0.8 on most targets (its classifier rows of the
    # shared findings kept: head: shared)
    assert (positive["auroc_a"] > 0.8).sum() >= 3, positive[["source", "auroc_a", "auroc_b"]]
    negative = means[[{a, b} == {"random", "random_b"} for a, b in zip(means["init_a"], means["init_b"])]]
    assert len(negative) == 6 and (negative["p_two_sided_adj"] >= 0.05).all(), negative
    controls = pd.read_csv(project / "data/demo/08_reporting/evaluation/controls.csv")
    assert set(controls["kind"]) == {"positive", "negative"}

    table = pd.read_csv(project / "data/demo/08_reporting/evaluation/study_table.csv", keep_default_na=False)
    trained = table[table["status"] == "trained"]
    cells = set(zip(trained["source"], trained["init"]))
    assert {(s, "random") for s in SOURCES} <= cells
    assert {(s, "mimic") for s in SOURCES if s != "mimic"} <= cells
    assert {(s, i) for s in SOURCES for i in ("ssl", "random_b")} <= cells  # the ssl arm and the negative control
    assert not any(init in HUB for _, init in cells)
    skipped = table[table["status"] == "skipped"]  # the arms the study is about are listed, with why
    assert set(zip(skipped["source"], skipped["init"])) == {(s, i) for s in SOURCES for i in HUB} | {("mimic", "mimic")}
    notes = dict(zip(zip(skipped["source"], skipped["init"]), skipped["note"]))
    assert all(f"finetuning.registry.{i}.file" in notes[s, i] for s in SOURCES for i in HUB)
    assert "held-out patients must stay unseen" in notes["mimic", "mimic"]  # configured, but no cell there
    assert (table["environment"] == "demo").all() and (table["synthetic_data"].astype(str) == "True").all()
    report = (project / "data/demo/08_reporting/evaluation/study_table.md").read_text()
    assert report.startswith("# Study table\n\n**SYNTHETIC DEMO DATA (not radiographs) · Kedro environment demo")
    assert "### Skipped arms" in report and "test images of" in report
    for init in HUB:
        card = json.loads((project / f"data/demo/06_models/vindr/{init}.card.json").read_text())
        assert card["skipped"] and f"finetuning.registry.{init}.file" in card["reason"]
    card = json.loads((project / "data/demo/06_models/vindr/random.card.json").read_text())
    assert card["provenance"]["synthetic"] is True and card["provenance"]["environment"] == "demo"

    mlflow.set_tracking_uri(f"sqlite:///{store}")
    client = MlflowClient()
    names = {m.name for m in client.search_registered_models(max_results=100)}
    assert {f"demo-cxrinit-{s}-random" for s in SOURCES} <= names
    assert {"demo-cxrinit-init-mimic-shared", "demo-cxrinit-init-ssl-dino"} <= names  # one MIMIC model for all targets
    experiment = client.get_experiment_by_name("cxrinit")
    parents = client.search_runs([experiment.experiment_id], "tags.stage = 'kedro_run'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = client.search_runs([experiment.experiment_id], "tags.stage = 'finetuning'", max_results=200)
    assert all(c.data.tags["kedro.parent_run"] == parents[0].info.run_id for c in children)

    # No absolute path in state: checkpoints, cards, summaries, store indexes, the MLflow store and its artifacts
    holders = [p for p in (project / "data").rglob("*") if p.is_file() and p.suffix != ".npy"]
    leaking = [p.relative_to(project).as_posix() for p in holders if str(project).encode() in p.read_bytes()]
    assert not leaking, leaking

    # The project moves (or is copied, or pulled): finished cells are kept as they are, and it predicts
    moved = tmp_path / "elsewhere" / "study"
    shutil.move(project, moved)
    monkeypatch.chdir(moved)
    cards = {p: p.read_bytes() for p in (moved / "data/demo/06_models").rglob("*.card.json")}
    store = moved / "data/demo/mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{store}")
    versions = len(MlflowClient().search_model_versions(max_results=500))
    run_kedro(moved, env="demo", pipeline="finetuning")
    assert {p: p.read_bytes() for p in cards} == cards  # nothing trained again, nothing registered again
    assert len(MlflowClient().search_model_versions(max_results=500)) == versions
    for _, command in doc_commands("docs/predict.md", "tests/test_study.py"):  # by name, and by cell folder
        done = subprocess.run(shlex.split(command), cwd=moved, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "trained on the synthetic demo data" in done.stderr
    by_name, by_folder = pd.read_csv(moved / "predictions.csv"), pd.read_csv(moved / "from_folder.csv")
    probs = [c for c in by_name.columns if c.startswith("prob_")]
    assert len(by_name) >= 1 and list(by_name["image_id"]) == list(by_folder["image_id"])
    np.testing.assert_allclose(by_name[probs].to_numpy(), by_folder[probs].to_numpy(), atol=1e-5)
    by_folder = by_folder.set_index("image_id")
    films = [moved / "data/demo/01_raw/vindr/test" / f"{i}.dicom" for i in by_folder.index[:3]]

    # A clone that got the cells from `dvc pull` but not the MLflow store: cxrinit-register fills its registry
    clone = tmp_path / "clone"
    shutil.copytree(moved, clone, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts", "logs"))
    said = []
    for _ in range(2):  # the second time registers nothing new
        own = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # mlflow.set_tracking_uri sets it
        done = subprocess.run(["cxrinit-register", "--env", "demo", "data/demo/06_models"], cwd=clone, env=own,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        said.append(re.search(r"(\d+) registered, (\d+) already there", done.stderr).groups())
    trained = sum(1 for c in cards if not json.loads(c.read_text())["skipped"])
    assert said == [(str(trained), "0"), ("0", str(trained))]
    store = clone / "data/demo/mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
    assert len(client.search_model_versions("name='demo-cxrinit-vindr-random'")) == 1
    films = [clone / f.relative_to(moved) for f in films]
    again, _ = predict_files("demo-cxrinit-vindr-random", films, tracking_uri=f"sqlite:///{store}", device="cpu")
    want = by_folder.loc[[Path(f).stem for f in films], probs]
    np.testing.assert_allclose(again[probs].to_numpy(), want.to_numpy(), atol=1e-5)
    assert {p: p.read_bytes() for p in (clone / "data/demo/06_models").rglob("*.card.json")} == \
        {clone / p.relative_to(moved): b for p, b in cards.items()}  # the cards stay as DVC restored them
    # the MIMIC arm's lineage names the version its initialization has in *this* store
    init = client.get_model_version_by_alias("demo-cxrinit-init-mimic-shared", "best")
    tuned = client.get_model_version_by_alias("demo-cxrinit-vindr-mimic", "best")
    assert tuned.tags["lineage.from_model"] == f"demo-cxrinit-init-mimic-shared/{init.version}"
    assert tuned.tags["provenance.synthetic_data"] == "true"
    # and the pulled clone re-runs its MIMIC cell without the store that trained it: kept, not retrained
    monkeypatch.chdir(clone)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    run_kedro(clone, env="demo", pipeline="finetuning", namespaces=["vindr.mimic"])
    assert (clone / "data/demo/06_models/vindr/mimic.card.json").read_bytes() == \
        cards[moved / "data/demo/06_models/vindr/mimic.card.json"]

