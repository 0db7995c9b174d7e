"""DVC: the stages reproduce offline, a second repro does nothing, a parameter change reruns only what is
downstream, and push + pull in a fresh clone restores identical files."""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, TINY_DEMO, TINY_SPLITS, make_project
from tests.docs import doc_commands


def _env() -> dict[str, str]:
    """A user's environment: no MLFLOW_TRACKING_URI (each clone tracks into its own store), a git identity."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def _sh(*cmd: str, cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _shell(command: str, cwd: Path) -> str:
    """A documented command line as a shell runs it (``&&`` and all)."""
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_dvc_yaml_follows_the_configuration_it_was_generated_from() -> None:
    """dvc.yaml is generated (`cxrinit-dvc --env <env>`: the repository ships the demo's, a study regenerates
    it for its own environment); a source or arm added without regenerating fails here."""
    import re

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from cxrinit.dvc_stages import render, stages

    text = (REPO / "dvc.yaml").read_text()
    env = re.match(r"# DVC stages of environment '(\w+)'", text).group(1)
    bootstrap_project(REPO)
    with KedroSession.create(project_path=REPO, env=env) as session:
        context = session.load_context()
        config = context.config_loader["globals"]
        expected = render(stages(context.layout, config["raw_roots"], env=env, project=REPO,
                                 data_dir=config["data_dir"]), env)
    assert text == expected, f"dvc.yaml is stale: run `cxrinit-dvc --env {env}`"


def test_a_source_of_the_environment_only_gets_stages_dvc_can_read(tmp_path: Path) -> None:
    """A dataset added in conf/local alone (docs/extending.md): its stages list conf/local's file, not base's."""
    project = make_project(tmp_path / "project")
    shutil.copytree(REPO / ".dvc", project / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp", "config.local"))
    (project / "hospital").mkdir()
    local = project / "conf" / "local"
    (local / "globals.yml").write_text("raw_roots:\n  hospital: hospital\n")
    sources = {s: {"enabled": False} for s in ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")}
    sources["hospital"] = {"format": "folder"}
    (local / "parameters_sources.yml").write_text(yaml.safe_dump({"sources": sources}))
    (local / "parameters_finetuning.yml").write_text(yaml.safe_dump({"finetuning": {"inits": ["random"]}}))
    (local / "labels.yml").write_text(yaml.safe_dump({"labels": {
        "sources": {"hospital": {"kind": "binary", "findings": {"pleural_effusion": ["effusion"]}}},
        "policies": {"hospital": {"views": None, "views_native": None, "blank": "ignore"}},
        "splits": {"hospital": {"use_official": False, "test_fraction": 0.3, "val_fraction": 0.2}},
        "label_sets": {"study": {"hospital": ["pleural_effusion"]}}}}))
    _sh("git", "init", "-q", cwd=project)
    _sh("cxrinit-dvc", "--env", "local", cwd=project)
    doc = yaml.safe_load((project / "dvc.yaml").read_text())
    assert doc["vars"][0]["sources"]["hospital"]["params"] == "conf/local/parameters_sources.yml"
    out = _sh("dvc", "status", cwd=project)  # DVC reads every stage's parameters: none may be missing
    assert "ingestion@hospital" in out and "missing" not in out.lower()


def test_default_remote_is_a_folder_beside_the_checkout() -> None:
    """Two clones in one folder see the same remote; no checkout holds it (a new clone's would be empty)."""
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    name = config["core"]["remote"]
    section = next(s for s in config.sections() if s.strip("'") == f'remote "{name}"')
    url = config[section]["url"]
    assert "://" not in url, "the default remote must be a local directory"
    where = (REPO / ".dvc" / url).resolve()  # DVC resolves a relative url against .dvc/
    assert where.parent == REPO.resolve().parent and not where.is_relative_to(REPO.resolve())


@pytest.mark.slow
def test_repro_is_cached_and_push_pull_restores_identical_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("pyproject.toml", "mlflow.yaml", "dvc.yaml", ".dvcignore", ".gitignore", "conf"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, repo / name)
    shutil.rmtree(repo / "conf" / "local")
    (repo / "conf" / "local").mkdir()
    shutil.copytree(REPO / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (repo / ".dvc").mkdir()
    shutil.copy2(REPO / ".dvc" / "config", repo / ".dvc" / "config")
    # Two sources, one arm, one epoch: the test is about DVC, not learning. The stages follow the configuration.
    kept = ("vindr", "padchest")
    demo = yaml.safe_load((repo / "conf/demo/parameters_demo.yml").read_text())
    demo["demo"]["sources"] = {s: {**demo["demo"]["sources"][s], **TINY_DEMO["demo"]["sources"][s]} for s in kept}
    demo["demo"]["workers"] = 1
    (repo / "conf/demo/parameters_demo.yml").write_text(yaml.safe_dump(demo))
    sources = {"sources": {s: {"enabled": s in kept} for s in ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")}}
    (repo / "conf/demo/parameters_sources.yml").write_text(yaml.safe_dump(sources))
    path = repo / "conf/demo/parameters_harmonization.yml"  # the tiny sources keep training patients
    harmonization = yaml.safe_load(path.read_text())
    harmonization["harmonization"]["split_overrides"] = TINY_SPLITS["harmonization"]["split_overrides"]
    path.write_text(yaml.safe_dump(harmonization))
    path = repo / "conf/demo/parameters_finetuning.yml"
    params = yaml.safe_load(path.read_text())
    params["finetuning"]["train"]["epochs"] = 1
    params["finetuning"]["inits"] = ["random"]
    path.write_text(yaml.safe_dump(params))

    _sh("git", "init", "-q", cwd=repo)
    _sh("git", "add", "-A", cwd=repo)
    _sh("git", "commit", "-qm", "the project", cwd=repo)  # what a clone starts from

    # The README's round trip, command for command: where the study ran ...
    documented = doc_commands("README.md", "tests/test_dvc.py")
    sections = list(dict.fromkeys(section for section, _ in documented))
    assert len(sections) == 2, sections
    said = {c: _shell(c, cwd=repo) for section, c in documented if section == sections[0]}
    assert "wrote" in said["cxrinit-dvc --env demo"]
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())
    assert set(stages["vars"][0]["sources"]) == set(kept) and "pretraining" not in stages["stages"]
    for stage in ("demo", "ingestion@vindr", "ingestion@padchest", "harmonization", "finetuning@vindr",
                  "finetuning@padchest", "evaluation"):
        assert f"Running stage '{stage}'" in said["dvc repro"]
    assert (tmp_path / "cxrinit-dvc-remote").is_dir()  # the default remote: beside the checkout, shared
    assert "Running stage" not in _sh("dvc", "repro", cwd=repo)  # a second repro does nothing

    produced = {k: v for k, v in _tree_hashes(repo / "data").items() if not k.endswith((".gitkeep", ".gitignore"))
                and not k.startswith(("demo/mlflow.db", "demo/mlartifacts"))}  # MLflow's store: not DVC's
    assert any(k.startswith("demo/01_raw/vindr/train/") for k in produced)
    assert "demo/05_model_input/padchest/labels.parquet" in produced
    assert "demo/03_primary/vindr/pixels/32/images.npy" in produced
    assert "demo/08_reporting/evaluation/study_table.md" in produced and "demo/06_models/vindr/random.card.json" in produced
    assert not any(k.startswith(("demo/02_intermediate/nih", "demo/06_models/mimic_init")) for k in produced)

    # ... and on another clone: the same files, nothing to reproduce, the models registered
    clone = tmp_path / "clone"
    _sh("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    assert not (clone / "data/demo/01_raw").exists()
    said = {c: _shell(c, cwd=clone) for section, c in documented if section == sections[1]}
    restored = {k: v for k, v in _tree_hashes(clone / "data").items() if not k.endswith((".gitkeep", ".gitignore"))
                and not k.startswith(("demo/mlflow.db", "demo/mlartifacts"))}
    assert restored == produced
    assert "up to date" in said["dvc status"], said["dvc status"]
    assert re.search(r"[1-9]\d* registered, 0 already there", said["cxrinit-register --env demo data/demo/06_models"])
    assert "Running stage" not in _sh("dvc", "repro", cwd=clone)
    assert _sh("git", "status", "--porcelain", cwd=clone).strip() == ""  # nothing rewritten, dvc.lock included
    # kedro run of finished work changes nothing DVC sees (the demo's missing files are retried, same bytes)
    _sh("kedro", "run", "--env", "demo", "--pipelines", "ingestion", cwd=clone)
    assert "up to date" in _sh("dvc", "status", cwd=clone)

    # One harmonization parameter changed: only the stages downstream of it rerun.
    params = repo / "conf/base/parameters_harmonization.yml"
    params.write_text(params.read_text().replace("seed: 2024", "seed: 2025"))
    changed = _sh("dvc", "repro", cwd=repo)
    assert "Running stage 'harmonization'" in changed and "Running stage 'evaluation'" in changed
    assert "Running stage 'demo'" not in changed and "Running stage 'ingestion" not in changed
