"""End to end against a real ``mlflow server``: the tiny demo's study tracked over HTTP, read back as a user would.

One module-scoped server and one pass of ingestion -> evaluation; the tests then query it with
``MlflowClient`` and the filter strings docs/mlflow.md shows.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_SPLITS, copy_project, run_kedro
from tests.docs import doc_commands

pytestmark = pytest.mark.slow

STAGES = ("ingestion", "harmonization", "pretraining", "finetuning", "evaluation")
FINETUNE_EPOCHS = 2  # more than one, so "one metric entry per epoch" is not satisfied by a single final log
#: Small runs: one MIMIC initialization (for VinDr), VinDr the only fine-tuning target, few resamples.
STUDY_PARAMS = {
    **TINY_SPLITS,
    # VinDr, and MIMIC for VinDr's MIMIC arm: the other sources are left out of every stage
    "sources": {s: {"enabled": False} for s in ("nih", "chexpert", "uka", "padchest")},
    "pretraining": {"mode": "per_target", "train": {"epochs": 1}},
    # the MLflow server's part: one arm that trains from its own stage (mimic), one from scratch, two skipped
    "finetuning": {"inits": ["dinov2", "imagenet21k", "mimic", "random"], "train": {"epochs": FINETUNE_EPOCHS}},
    "evaluation": {"n_resamples": 50},
}
#: The namespaces each stage runs (None: all): only VinDr is fine-tuned.
NAMESPACES = {"ingestion": None, "harmonization": None, "pretraining": None, "finetuning": ["vindr"],
              "evaluation": None}
#: The tiny demo's VinDr (8 patients, 4 of them broken files) leaves a single test image: no AUROC is
#: defined. 60 patients give about 46 train / 4 val / 6 test images, both classes in several findings.
VINDR_PATIENTS = 60
HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log_file: Path, timeout: float = HEALTH_TIMEOUT_S) -> None:
    """Poll ``<url>/health`` until it answers OK; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with code {proc.returncode} before answering {url}/health;"
                        f" its log ({log_file}):\n{log_file.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            last = repr(err)
        time.sleep(0.5)
    pytest.fail(f"mlflow server at {url} did not answer /health within {timeout:.0f} s (last: {last});"
                f" its log ({log_file}):\n{log_file.read_text()[-4000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (gunicorn/uvicorn workers included), SIGKILL it after a timeout."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    # Workers may outlive their master: the group goes either way.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=STOP_TIMEOUT_S)


def forget_server(before: str | None) -> None:
    """Point MLflow's process-wide tracking URI (which the project hook set to the server) back where it was.

    A later test that talks to a stopped server would hang in HTTP retries instead of failing.
    """
    import mlflow

    mlflow.set_tracking_uri(before)  # None unsets it (and the environment variable mlflow sets with it)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="module")
def server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's folder: ``mlflow.db``, ``mlartifacts/`` (its --artifacts-destination) and ``server.log``."""
    return tmp_path_factory.mktemp("mlflow_server")


@pytest.fixture(scope="module")
def server(server_root: Path) -> Iterator[str]:
    """A real tracking server on loopback with a SQLite backend and proxied local artifacts; yields its URL."""
    root = server_root
    port = free_port()
    log_file = root / "server.log"
    # docs/mlflow.md's command as written, on a free port with one worker, in the server's own folder
    documented = doc_commands("docs/mlflow.md", "tests/test_mlflow_server.py")
    server_command = next(c for _, c in documented if c.startswith("mlflow server"))
    cmd = [sys.executable, "-m", *shlex.split(server_command.replace("--port 5000", f"--port {port}")),
           "--workers", "1"]
    assert "export MLFLOW_TRACKING_URI=http://127.0.0.1:5000" in [c for _, c in documented]
    # The GenAI job runner (a huey consumer per job type) is not needed here and slows a small machine down.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=root, env=env)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log_file)
        yield url
    finally:
        stop_server(proc)
        forget_server(before)


def run_study(project: Path) -> None:
    """Regrow the demo's VinDr in ``project`` (a tiny_demo copy, the working directory), run every stage after it."""
    demo = {"demo": {"workers": 1, "n_broken": 4, "sources": {"vindr": {"n_patients": VINDR_PATIENTS}}}}
    run_kedro(project, env="demo", pipeline="demo", params=demo, namespaces=["demo.vindr"])
    for stage in STAGES:
        run_kedro(project, env="demo", pipeline=stage, params=STUDY_PARAMS, namespaces=NAMESPACES[stage])


@pytest.fixture(scope="module")
def study(server: str, tiny_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo from ingestion to evaluation, one ``kedro run`` per stage, tracked by ``server``."""
    project = copy_project(tiny_demo, tmp_path_factory.mktemp("mlflow_study") / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setenv("MLFLOW_TRACKING_URI", server)
        run_study(project)
    return project


@pytest.fixture
def client(server: str, study: Path, monkeypatch: pytest.MonkeyPatch):
    """A client of ``server`` (also the default tracking URI, for ``mlflow.artifacts`` / ``load_model``)."""
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    mlflow.set_tracking_uri(server)
    return MlflowClient(tracking_uri=server)


def experiment_id(client) -> str:
    experiments = client.search_experiments()
    names = [e.name for e in experiments if e.name != "Default"]
    assert names == ["cxrinit"], f"expected exactly one study experiment, found {names}"
    return next(e.experiment_id for e in experiments if e.name == "cxrinit")


def one_run(client, filter_string: str):
    runs = client.search_runs([experiment_id(client)], filter_string=filter_string)
    assert len(runs) == 1, f"{filter_string!r} matched {len(runs)} runs, expected 1"
    return runs[0]


def test_one_parent_run_per_kedro_run(client) -> None:
    parents = client.search_runs([experiment_id(client)], filter_string="tags.stage = 'kedro_run'")
    assert sorted(r.data.tags["kedro.pipeline"] for r in parents) == sorted(["demo", *STAGES])
    assert all(r.info.status == "FINISHED" and r.data.tags["kedro.env"] == "demo" for r in parents)
    demo = one_run(client, "tags.`kedro.pipeline` = 'demo'")
    assert demo.data.tags["kedro.namespaces"] == "demo.vindr"
    # dotted tag keys need backticks in a filter string
    finetuning = one_run(client, "tags.`kedro.pipeline` = 'finetuning'")
    assert finetuning.data.tags["kedro.namespaces"] == "vindr"
    assert finetuning.data.params["finetuning.inits"] == "['dinov2', 'imagenet21k', 'mimic', 'random']"


def test_child_runs_filter_by_init_and_source(client) -> None:
    ids = [experiment_id(client)]
    random = one_run(client, "tags.init = 'random' and tags.source = 'vindr' and tags.stage = 'finetuning'")
    parent = one_run(client, "tags.`kedro.pipeline` = 'finetuning'")
    assert random.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert random.data.tags["kedro.parent_run"] == parent.info.run_id
    assert random.info.status == "FINISHED"
    assert random.data.params["finetuning.img_size"] == "32"  # the name the parent run uses
    assert {"train_loss", "val_auroc_mean"} <= set(random.data.metrics)

    trained = client.search_runs(ids, "tags.source = 'vindr' and tags.stage = 'finetuning' "
                                      "and attributes.status = 'FINISHED'")
    by_init = {r.data.tags["init"]: r for r in trained}
    assert {"random", "mimic"} <= set(by_init)
    # without local DINOv2 / ImageNet-21k weights those cells say why instead of training
    skipped = client.search_runs(ids, "tags.skipped = 'true'")
    assert {r.data.tags["init"] for r in skipped} == {"dinov2", "imagenet21k"}
    assert all("weights" in r.data.tags["skip_reason"].lower() for r in skipped)
    assert all(r.info.status == "FINISHED" for r in skipped)  # a skip is no failure
    assert {r.data.tags["init"] for r in client.search_runs(ids, "tags.skipped = 'false'")} >= {"random", "mimic"}
    # the other sources' cells never started: only the vindr namespace ran
    assert not client.search_runs(ids, "tags.source = 'nih'")
    pretrained = one_run(client, "tags.stage = 'pretraining' and tags.source = 'vindr'")
    assert pretrained.data.tags["init"] == "mimic<-random"


def test_metric_history_has_one_entry_per_epoch(client) -> None:
    run = one_run(client, "tags.init = 'random' and tags.source = 'vindr' and tags.stage = 'finetuning'")
    history = client.get_metric_history(run.info.run_id, "val_auroc_mean")
    assert sorted(m.step for m in history) == list(range(1, FINETUNE_EPOCHS + 1))
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == FINETUNE_EPOCHS
    pre = one_run(client, "tags.stage = 'pretraining' and tags.source = 'vindr'")
    assert [m.step for m in client.get_metric_history(pre.info.run_id, "train_loss")] == [1]


def test_artifacts_are_served(client, study: Path, server_root: Path, tmp_path: Path) -> None:
    import mlflow

    run = one_run(client, "tags.init = 'random' and tags.source = 'vindr' and tags.stage = 'finetuning'")
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"history.json", "weights"} <= names
    # the client uploaded through the server (mlflow.yaml's local folder is not used with a server)
    exp = experiment_id(client)
    assert client.get_experiment(exp).artifact_location == f"mlflow-artifacts:/{exp}"
    assert (server_root / "mlartifacts" / exp / run.info.run_id / "artifacts" / "history.json").is_file()
    assert not (study / "mlartifacts").exists()
    history = json.loads(Path(mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="history.json", dst_path=str(tmp_path / "h"))).read_text())
    assert len(history) == FINETUNE_EPOCHS
    weights = {a.path for a in client.list_artifacts(run.info.run_id, "weights")}
    assert weights == {"weights/best.safetensors"}

    evaluation = one_run(client, "tags.`kedro.pipeline` = 'evaluation'")
    tables = {a.path for a in client.list_artifacts(evaluation.info.run_id, "evaluation")}
    assert {"evaluation/study_table.csv", "evaluation/summary.csv", "evaluation/comparisons.csv",
            "evaluation/markdown.md", "evaluation/forest.png"} <= tables
    served = pd.read_csv(mlflow.artifacts.download_artifacts(
        run_id=evaluation.info.run_id, artifact_path="evaluation/study_table.csv", dst_path=str(tmp_path / "e")))
    local = pd.read_csv(study / "data/demo/08_reporting/evaluation/study_table.csv")
    pd.testing.assert_frame_equal(served, local)
    trained = served[served["status"] == "trained"]
    assert set(trained["init"]) == {"random", "mimic"} and set(trained["source"]) == {"vindr"}
    skipped = served[(served["status"] == "skipped") & (served["source"] == "vindr")]  # configured, not trained: why
    assert set(skipped["init"]) == {"dinov2", "imagenet21k"} and skipped["note"].str.contains("registry").all()
    assert "evaluation/study_table.json" in tables  # the MLflow table artifact of the same rows
    # each cell's headline test metrics on its own run: MLflow's compare view puts the inits side by side
    cells = {r.data.tags["init"]: r for r in client.search_runs(
        [experiment_id(client)], "tags.stage = 'finetuning' and tags.source = 'vindr' and attributes.status = 'FINISHED'")}
    for init in ("random", "mimic"):
        metrics = cells[init].data.metrics
        assert {"test_auroc_mean", "test_n_images"} <= set(metrics)
        assert metrics["test_n_images"] == trained["n_images"].iloc[0]
        assert any(k.startswith("test_auroc_") and k != "test_auroc_mean" for k in metrics)  # one per finding
    assert evaluation.data.tags["provenance.synthetic_data"] == "true"


def test_registered_models_aliases_and_lineage(client) -> None:
    import mlflow
    import torch

    names = {m.name for m in client.search_registered_models()}
    assert {"demo-cxrinit-vindr-random", "demo-cxrinit-vindr-mimic", "demo-cxrinit-init-mimic-vindr"} <= names
    assert not any(n.startswith(("demo-cxrinit-nih-", "demo-cxrinit-vindr-dinov2", "demo-cxrinit-vindr-imagenet21k"))
                   for n in names)

    init = client.get_model_version_by_alias("demo-cxrinit-init-mimic-vindr", "best")
    pretrained = one_run(client, "tags.stage = 'pretraining' and tags.source = 'vindr'")
    assert init.run_id == pretrained.info.run_id
    assert init.tags["lineage.init"] == "random" and init.tags["lineage.trained_on"] == "mimic/train"

    tuned = client.get_model_version_by_alias("demo-cxrinit-vindr-mimic", "best")
    assert tuned.tags["lineage.init"] == "mimic"
    assert tuned.tags["lineage.from_model"] == f"demo-cxrinit-init-mimic-vindr/{init.version}"
    # the fine-tune kept the initialization's label set
    assert json.loads(tuned.tags["findings"]) == json.loads(init.tags["findings"])

    best = client.get_model_version_by_alias("demo-cxrinit-vindr-random", "best")
    contract = json.loads(best.tags["input_contract"])
    findings = json.loads(best.tags["findings"])
    assert best.tags["selection_metric"] == "val_auroc_mean"  # the demo VinDr has a validation split
    assert 0.0 <= float(best.tags["val_auroc_mean"]) <= 1.0
    assert best.tags["val_auroc_mean"] == best.tags["selection_value"]
    # the pt2 model comes back through the server's artifact proxy and predicts one logit per finding
    model = mlflow.pytorch.load_model("models:/demo-cxrinit-vindr-random@best")
    x = torch.from_numpy(np.random.default_rng(0).random((3, 3, contract["size"], contract["size"]), np.float32))
    with torch.no_grad():
        out = model(x)
    assert tuple(out.shape) == (3, len(findings))
