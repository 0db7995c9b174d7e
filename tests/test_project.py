"""The Kedro project itself: pipelines found, configuration resolves, data roots behave, MLflow parent runs."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from kedro.io import DatasetError

from cxrinit import tracking
from cxrinit.config import ConfigError
from cxrinit.datasets import SourceRoot
from cxrinit.hooks import RunRefused
from tests.conftest import REPO, run_kedro

SOURCES = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")


def test_pipelines_follow_the_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registered pipelines are those of the running environment's configuration, from any folder."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    monkeypatch.chdir(project.parent)  # not the project folder: nothing may depend on the working directory
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="demo") as session:
        session.load_context()
        assert {n.namespace for n in pipelines["demo"].nodes} == {f"demo.{s}" for s in SOURCES}
        assert set(pipelines["__default__"].nodes) >= set(pipelines["demo"].nodes)
    (project / "conf" / "local" / "parameters_finetuning.yml").write_text(
        "finetuning:\n  inits: [random, mine]\n"
        "  registry:\n    mine: {arch: vit_tiny_patch16_224, weights: none}\n")
    with KedroSession.create(project_path=project) as session:  # the local environment, with an init of its own
        session.load_context()
        assert not set(pipelines["__default__"].nodes) & set(pipelines["demo"].nodes)
        cells = {n.namespace for n in pipelines["finetuning"].nodes}
        assert cells == {f"{s}.{i}" for s in SOURCES for i in ("random", "mine")}
    with KedroSession.create(project_path=project, env="demo") as session:  # conf/local is not the demo's
        session.load_context()
        assert "vindr.mine" not in {n.namespace for n in pipelines["finetuning"].nodes}


def test_repository_has_the_design_card_layout() -> None:
    for name in ("pyproject.toml", "conf/base", "conf/demo", "conf/local", "data/01_raw", "data/08_reporting",
                 "src/cxrinit", "notebooks", "tests", "dvc.yaml", "mlflow.yaml", ".ci/run", "README.md",
                 "requirements.lock", "conf/local/globals.example.yml"):
        assert (REPO / name).exists(), name


def test_source_root_without_a_configured_path_names_source_layout_and_setting() -> None:
    with pytest.raises(DatasetError) as err:
        SourceRoot("padchest", roots={"padchest": None}).load()
    message = str(err.value)
    assert "'padchest'" in message and "raw_roots.padchest" in message and "PADCHEST_chest_x_ray_images_labels" in message


def test_source_root_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        SourceRoot("nih", roots={"nih": str(tmp_path / "nope")}).load()
    (tmp_path / "nih").mkdir()
    assert SourceRoot("nih", roots={"nih": str(tmp_path / "nih")}).load() == tmp_path / "nih"


class _Tree:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def write_to(self, root: Path) -> None:
        (root / "a.txt").write_text("new")
        if self.fail:
            raise RuntimeError("killed half-way")


def test_source_root_refuses_to_write_real_data(tmp_path: Path) -> None:
    (tmp_path / "vindr").mkdir()
    with pytest.raises(DatasetError, match="read-only"):
        SourceRoot("vindr", roots={"vindr": str(tmp_path / "vindr")}).save(_Tree())


def test_source_root_replaces_only_when_complete(tmp_path: Path) -> None:
    root = tmp_path / "vindr"
    root.mkdir()
    (root / "old.txt").write_text("old")
    ds = SourceRoot("vindr", roots={"vindr": str(root)}, writable=True)
    with pytest.raises(DatasetError, match="killed half-way"):
        ds.save(_Tree(fail=True))
    assert sorted(p.name for p in root.iterdir()) == ["old.txt"]
    ds.save(_Tree())
    assert sorted(p.name for p in root.iterdir()) == ["a.txt"]


def test_mlflow_yaml_is_read_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    config = tracking.load_config(REPO)
    assert config.tracking_uri == f"sqlite:///{REPO / 'mlflow.db'}"
    assert config.experiment == "cxrinit"
    assert config.ui["host"] == "127.0.0.1"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'x.db'}")
    config = tracking.load_config(REPO)
    assert config.tracking_uri == f"sqlite:///{tmp_path / 'x.db'}"
    assert config.artifact_location == (tmp_path / "mlartifacts").as_uri()


def test_mlflow_yaml_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="mlflow.yaml"):
        tracking.load_config(tmp_path)
    (tmp_path / "mlflow.yaml").write_text("experiment: x\n")
    with pytest.raises(ValueError, match="tracking_uri"):
        tracking.load_config(tmp_path)
    (tmp_path / "mlflow.yaml").write_text("experiment: x\ntracking_uri: sqlite:///a.db\n"
                                          "environments:\n  demo:\n    trackng_uri: sqlite:///b.db\n")
    with pytest.raises(ValueError, match="unknown key.*environments.demo.trackng_uri"):
        tracking.load_config(tmp_path, "demo")


def test_the_demo_tracks_into_its_own_store(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs and registered models of the demo never meet a study's (the same names would interleave)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    demo = tracking.load_config(REPO, "demo")
    assert demo.tracking_uri == f"sqlite:///{REPO / 'data/demo/mlflow.db'}"
    assert demo.artifact_location == (REPO / "data/demo/mlartifacts").as_uri()
    assert tracking.load_config(REPO, "local").tracking_uri == f"sqlite:///{REPO / 'mlflow.db'}"
    monkeypatch.chdir(project)
    run_kedro(project, env="demo", pipeline="demo", namespaces=["demo.nih"],
              params={"demo": {"workers": 1, "sources": {"nih": {"n_patients": 4, "studies_per_patient": [1, 3]}}}})
    assert (project / "data/demo/mlflow.db").is_file() and not (project / "mlflow.db").exists()
    mlflow.set_tracking_uri(f"sqlite:///{project / 'data/demo/mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["cxrinit"], output_format="list")
    assert [r.data.tags["kedro.env"] for r in runs] == ["demo"]


def test_flatten_params() -> None:
    flat = tracking.flatten_params({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x" * 7000, "f": {},
                                    "view_map": {"Frontal|PA": "PA", "": "OTHER"}})
    assert flat == {"a.b": "1", "a.c.d": "[1, 2]", "e": "x" * 6000, "f": "{}",
                    "view_map": "{'Frontal|PA': 'PA', '': 'OTHER'}"}


def test_demo_is_refused_outside_the_demo_environment_and_writes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, _mlflow_store: Path
) -> None:
    monkeypatch.chdir(project)
    real = project / "real_vindr"
    real.mkdir()
    (real / "keep.dicom").write_bytes(b"real data")
    (project / "conf" / "local" / "globals.yml").write_text(f"raw_roots:\n  vindr: {real}\n")
    before = sorted(p.relative_to(project) for p in (project / "data").rglob("*"))
    with pytest.raises(RunRefused, match="runs only in the demo environment: `kedro run --env demo"):
        run_kedro(project, pipeline="demo")
    assert [p.name for p in real.iterdir()] == ["keep.dicom"]
    assert sorted(p.relative_to(project) for p in (project / "data").rglob("*")) == before  # no answer key wiped


def test_a_study_run_without_roots_lists_every_missing_one_before_anything_runs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    before = sorted(p.relative_to(project) for p in (project / "data").rglob("*"))
    with pytest.raises(RunRefused) as err:
        run_kedro(project)
    message = str(err.value)
    for source in SOURCES:
        assert f"{source}: no raw_roots.{source} is set (format {source}: a folder holding" in message
    assert "Set raw_roots.<source> in conf/local/globals.yml" in message
    assert sorted(p.relative_to(project) for p in (project / "data").rglob("*")) == before


def test_bad_settings_stop_the_run_before_the_first_node(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    with pytest.raises(ConfigError, match=r"`evaluation.n_resample` \(from --params or -c\): unknown key "
                                          r"\(did you mean `n_resamples`\?\)"):
        run_kedro(project, env="demo", pipeline="demo", params={"evaluation": {"n_resample": 10}})
    assert not (project / "data" / "demo").exists()


def test_an_architecture_timm_does_not_have_stops_a_training_run_before_the_first_node(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    params = {"finetuning": {"registry": {"random": {"arch": "vit_tiny_patch16_22"}}}}
    with pytest.raises(ConfigError, match=r"`finetuning.registry.random.arch` \(from --params or -c\): "
                                          r"'vit_tiny_patch16_22' is not a timm architecture "
                                          r"\(did you mean `vit_tiny_patch16_224`\?\)"):
        run_kedro(project, env="demo", pipeline="finetuning", params=params)
    assert not (project / "data" / "demo").exists()


def test_parent_run_is_tagged_and_holds_the_resolved_parameters(
    project: Path, monkeypatch: pytest.MonkeyPatch, _mlflow_store: Path
) -> None:
    monkeypatch.chdir(project)
    params = {"demo": {"workers": 1, "n_broken": 1, "sources": {s: {"n_patients": 3} for s in SOURCES}}}
    run_kedro(project, env="demo", pipeline="demo", params=params, namespaces=["demo.vindr"])
    mlflow.set_tracking_uri(f"sqlite:///{_mlflow_store / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["cxrinit"])
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["status"] == "FINISHED"
    assert run["tags.kedro.pipeline"] == "demo"
    assert run["tags.kedro.env"] == "demo"
    assert run["tags.kedro.namespaces"] == "demo.vindr"
    assert run["tags.stage"] == "kedro_run"
    assert len(run["tags.mlflow.source.git.commit"]) >= 7
    assert run["params.demo.enabled"] == "True" and run["params.demo.sources.vindr.n_patients"] == "3"
    assert "params.labels.version" not in runs.columns  # the ontology is an artifact, not 300 parameters
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"], "config")}
    assert artifacts == {"config/labels.yml"}


def test_every_requested_extra_exists_and_every_catalog_dataset_type_is_installed() -> None:
    """pyproject.toml once asked kedro-datasets for an extra that does not exist (pip only warns)."""
    import importlib
    import importlib.metadata as metadata
    import re
    import tomllib

    import yaml

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([^\]]+)\])?==.+", requirement)
        assert match, requirement
        name, extras = match.group(1), match.group(2)
        provided = set(metadata.distribution(name).metadata.get_all("Provides-Extra") or [])
        for extra in (extras or "").split(","):
            assert not extra or extra in provided, f"{name} has no extra {extra!r}; it has {sorted(provided)}"
    types = set()
    for path in (REPO / "conf").rglob("catalog*.yml"):
        for entry in (yaml.safe_load(path.read_text()) or {}).values():
            types |= {entry["type"], *([entry["dataset"]["type"]] if "dataset" in entry else [])}
    for name in types:
        module, _, cls = (name if name.startswith(("cxrinit.", "kedro.")) else f"kedro_datasets.{name}").rpartition(".")
        assert hasattr(importlib.import_module(module), cls), name


def test_the_example_roots_and_the_docs_agree() -> None:
    import yaml

    example = yaml.safe_load((REPO / "conf/local/globals.example.yml").read_text())["raw_roots"]
    docs = (REPO / "docs/datasets.md").read_text()
    for source, root in example.items():
        assert f"  {source}: {root}" in docs, (source, root)
