"""Shared test setup: offline, no telemetry, MLflow in a temporary store, tiny project copies."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
#: What a project copy needs to run Kedro sessions (the package itself is installed).
PROJECT_FILES = ("pyproject.toml", "mlflow.yaml", "conf", "dvc.yaml", ".dvcignore")


@pytest.fixture(autouse=True)
def _mlflow_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test tracks into its own SQLite store, never the repository's."""
    import mlflow

    store = tmp_path_factory.mktemp("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")  # MLflow also caches the URI in the process
    return store


def make_project(dest: Path) -> Path:
    """Copy the project's configuration to ``dest``, where Kedro runs may write data freely."""
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("globals.yml") if name == "local" else None)
        elif src.exists():
            shutil.copy2(src, dest / name)
    # A user's own conf/local must not leak into tests.
    local = dest / "conf" / "local"
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir()
    (dest / "src").mkdir()  # Kedro wants the source folder; the package itself is installed
    for layer in ("01_raw", "02_intermediate", "03_primary", "05_model_input", "06_models", "07_model_output",
                  "08_reporting"):
        (dest / "data" / layer).mkdir(parents=True)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway copy of the project's configuration."""
    return make_project(tmp_path / "project")


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy holding the tiny demo's six native trees, generated once per test session.

    Tests must not modify it: copy it (``copy_project``) to run further stages.
    """
    dest = make_project(tmp_path_factory.mktemp("tiny_demo") / "project")
    store = tmp_path_factory.mktemp("tiny_demo_mlflow") / "mlflow.db"
    with pytest.MonkeyPatch.context() as mp:  # session-scoped: the autouse store fixture is not active yet
        mp.chdir(dest)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
        run_kedro(dest, env="demo", pipeline="demo", params=TINY_DEMO)
    assert not (dest / "mlflow.db").exists() and not (dest / "mlartifacts").exists()
    return dest


def copy_project(src: Path, dest: Path) -> Path:
    """A private copy of a project (configuration and data) for a test to run stages in."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def run_kedro(project: Path, *, env: str | None = None, pipeline: str | None = None,
              params: dict | None = None, namespaces: list[str] | None = None, tags: list[str] | None = None) -> dict:
    """Run a Kedro pipeline of the project copy at ``project`` (the working directory must be ``project``)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=params) as session:
        return session.run(pipeline_names=[pipeline] if pipeline else None, namespaces=namespaces, tags=tags)


#: The tiny demo's splits are the study's own (conf/base/labels.yml): the demo's (large test splits, for its
#: controls) would leave 8-patient sources without training patients.
TINY_SPLITS = {"harmonization": {"split_overrides": {
    s: {"use_official": s in ("vindr", "nih", "uka"), "test_fraction": 0.2, "val_fraction": 0.1}
    for s in ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")}}}

#: Demo sizes small enough for a test: 6-10 patients per source.
TINY_DEMO = {
    "demo": {
        "workers": 1,
        "n_broken": 4,
        # several studies and views per patient, laterals included (the demo itself renders one frontal film
        # per patient): follow-ups, view filters and patient-wise splits have work to do
        "sources": {
            "vindr": {"n_patients": 8, "lateral_fraction": 0.25, "studies_per_patient": [1, 1],
                      "images_per_study": [1, 1], "ap_fraction": 0.0},
            "nih": {"n_patients": 8, "lateral_fraction": 0.25, "studies_per_patient": [1, 3], "images_per_study": [1, 1]},
            "chexpert": {"n_patients": 8, "lateral_fraction": 0.25, "studies_per_patient": [1, 3],
                         "images_per_study": [1, 2]},
            "mimic": {"n_patients": 8, "lateral_fraction": 0.25, "studies_per_patient": [1, 3], "images_per_study": [1, 2]},
            "uka": {"n_patients": 8, "lateral_fraction": 0.0, "studies_per_patient": [1, 3], "images_per_study": [1, 1],
                    "ap_fraction": 1.0},
            "padchest": {"n_patients": 8, "lateral_fraction": 0.25, "studies_per_patient": [1, 2],
                         "images_per_study": [1, 2]},
        },
    }
}
