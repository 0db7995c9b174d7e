"""Pretraining, finetuning and evaluation on the tiny demo: cells train or say why not, MLflow holds it all."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from cxrinit.datasets import StoreSet
from tests.conftest import TINY_SPLITS, copy_project, run_kedro

pytestmark = pytest.mark.slow

SOURCES = ["vindr", "uka"]
QUICK = {
    **TINY_SPLITS,
    "pretraining": {"mode": "per_target", "train": {"epochs": 2}},  # one initialization per target, head kept
    "selfsupervised": {"sources": [*SOURCES, "mimic"], "train": {"epochs": 2, "batch_size": 4},
                       "dino": {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16}, "probe": {"source": "mimic"}},
    "finetuning": {"train": {"epochs": 2}},
    "evaluation": {"n_resamples": 200},
}
#: The namespaces each stage runs: two targets (and MIMIC, the pretraining source) rather than six.
NAMESPACES = {"ingestion": [*SOURCES, "mimic"], "harmonization": [*SOURCES, "mimic"],
              "pretraining": [f"mimic_init.{s}" for s in SOURCES], "selfsupervised": None, "finetuning": SOURCES,
              "evaluation": None}


@pytest.fixture(scope="module")
def trained(tiny_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    project = copy_project(tiny_demo, tmp_path_factory.mktemp("train") / "project")
    store = tmp_path_factory.mktemp("mlflow_train") / "mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
        for pipeline, namespaces in NAMESPACES.items():
            run_kedro(project, env="demo", pipeline=pipeline, params=QUICK, namespaces=namespaces)
    return project, f"sqlite:///{store}"


def _card(project: Path, init: str, source: str) -> dict:
    return json.loads((project / f"data/demo/06_models/{source}/{init}.card.json").read_text())


def test_every_cell_trains_or_says_how_to_make_it_train(trained: tuple[Path, str]) -> None:
    project, _ = trained
    for source in SOURCES:
        for init in ("random", "mimic"):
            card = _card(project, init, source)
            assert not card["skipped"], card
            assert (project / card["best_weights"]).is_file()
            predictions = pd.read_parquet(project / f"data/demo/07_model_output/{source}/{init}/predictions.parquet")
            assert set(predictions["split"]) <= {"val", "test"} and "test" in set(predictions["split"])
            for finding in card["findings"]:
                assert predictions[f"prob_{finding}"].between(0, 1).all()
        for init in ("dinov2", "imagenet21k"):
            card = _card(project, init, source)
            assert card["skipped"] and f"finetuning.registry.{init}.file" in card["reason"], card
    assert not (project / "data/demo/06_models/nih").exists()  # a namespace not run leaves nothing behind
    mimic = _card(project, "mimic", "vindr")
    pretrained = json.loads((project / "data/demo/06_models/mimic_init/vindr.card.json").read_text())
    assert mimic["findings"] == pretrained["findings"]  # the target's labels shared with MIMIC, head kept


def test_the_ssl_arm_fine_tunes_from_the_registered_self_supervised_backbone(trained: tuple[Path, str]) -> None:
    project, uri = trained
    init = json.loads((project / "data/demo/06_models/ssl_init/ssl.card.json").read_text())
    assert not init["skipped"] and init["stage"] == "selfsupervised" and init["epochs_run"] == 2
    assert set(init["images"]) == {*SOURCES, "mimic"} and all(n > 0 for n in init["images"].values())
    assert all("not in the training split (val/test)" in init["data"][s]["dropped"] for s in SOURCES)
    assert init["lineage"] == {"method": "dino", "init": "random", "data": "vindr/train, uka/train, mimic/train",
                               "epochs": 2}
    assert {"start", "end"} <= set(init["probe"]) and init["probe"]["end"]["source"] == "mimic"
    assert (project / init["best_weights"]).is_file() and not Path(init["best_weights"]).is_absolute()
    for source in SOURCES:
        card = _card(project, "ssl", source)
        assert not card["skipped"] and card["lineage"]["from_model"] == "demo-cxrinit-init-ssl-dino/1"
        assert card["arch"] == init["arch"] and card["model_kwargs"] == init["model_kwargs"]
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    version = client.get_model_version("demo-cxrinit-init-ssl-dino", "1")
    assert version.tags["lineage.method"] == "dino" and version.tags["lineage.init"] == "random"
    run = client.get_run(init["registry"]["run_id"])
    assert run.data.tags["stage"] == "selfsupervised" and run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "ssl_loss")) == 2
    assert "probe_end_knn_auroc_mean" in run.data.metrics or np.isnan(init["probe"]["end"]["auroc_mean"])


def test_a_folder_holding_a_test_image_is_refused(trained: tuple[Path, str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The self-supervised stage may read any folder; a held-out image of a source in it would leak the evaluation."""
    import shutil

    from cxrinit.labels import LeakageError

    project = copy_project(trained[0], tmp_path / "project")
    monkeypatch.chdir(project)
    splits = pd.read_parquet(project / "data/demo/05_model_input/vindr/splits.parquet")
    manifest = pd.read_parquet(project / "data/demo/02_intermediate/vindr/manifest.parquet")
    test_id = splits.loc[splits["split"] == "test", "image_id"].iloc[0]
    path = manifest.loc[manifest["image_id"] == test_id, "path"].iloc[0]
    folder = tmp_path / "archive"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(project / "data/demo/01_raw/vindr" / path, folder / "sub" / "copy.dicom")
    params = {**QUICK, "selfsupervised": {**QUICK["selfsupervised"], "folders": [str(folder)]},
              "sources": {s: {"enabled": False} for s in ("nih", "chexpert", "padchest")}}  # not ingested here
    with pytest.raises(LeakageError, match=rf"1 image\(s\) of {folder} are vindr validation/test images .*"
                                           rf"sub/copy.dicom = vindr test image {test_id}"):
        run_kedro(project, env="demo", pipeline="selfsupervised", params=params)


def test_mlflow_holds_parent_and_child_runs_metrics_and_registered_models(trained: tuple[Path, str]) -> None:
    _, uri = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("cxrinit")
    runs = client.search_runs([experiment.experiment_id], max_results=500)
    parents = [r for r in runs if r.data.tags.get("stage") == "kedro_run"]
    assert {r.data.tags["kedro.pipeline"] for r in parents} >= {"pretraining", "finetuning", "evaluation"}
    cells = client.search_runs([experiment.experiment_id],
                               "tags.stage = 'finetuning' and tags.init = 'random' and tags.source = 'vindr'")
    assert len(cells) == 1
    cell = cells[0]
    assert cell.data.tags["kedro.parent_run"] in {r.info.run_id for r in parents}
    history = client.get_metric_history(cell.info.run_id, "train_loss")
    assert [m.step for m in history] == [1, 2]
    assert {"finetuning.train.lr", "cell.contract.size", "cell.findings", "finetuning.img_size"} <= set(cell.data.params)
    skipped = client.search_runs([experiment.experiment_id], "tags.init = 'dinov2' and tags.skipped = 'true'")
    assert len(skipped) == len(SOURCES)

    for name in ("demo-cxrinit-vindr-random", "demo-cxrinit-vindr-mimic", "demo-cxrinit-uka-mimic",
                 "demo-cxrinit-init-mimic-vindr"):
        version = client.get_model_version_by_alias(name, "best")
        assert json.loads(version.tags["findings"])
        assert json.loads(version.tags["input_contract"])["size"] == 32
        assert json.loads(version.tags["preprocessing"])["store_size"] == 32
    lineage = client.get_model_version_by_alias("demo-cxrinit-vindr-mimic", "best").tags["lineage.from_model"]
    assert lineage.startswith("demo-cxrinit-init-mimic-vindr/")
    evaluation = [r for r in parents if r.data.tags["kedro.pipeline"] == "evaluation"][0]
    artifacts = {a.path for a in client.list_artifacts(evaluation.info.run_id, "evaluation")}
    assert "evaluation/study_table.csv" in artifacts and "evaluation/forest.png" in artifacts


def test_registered_model_reloads_and_predicts_the_same(trained: tuple[Path, str]) -> None:
    project, uri = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias("demo-cxrinit-uka-random", "best")
    contract = json.loads(version.tags["input_contract"])
    findings = json.loads(version.tags["findings"])
    model = mlflow.pytorch.load_model("models:/demo-cxrinit-uka-random@best")
    predictions = pd.read_parquet(project / "data/demo/07_model_output/uka/random/predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    store = StoreSet(project / "data/demo/03_primary/uka/pixels")[32]
    pixels = store.gather(store.row_of(test["image_id"])).astype(np.float32) / 255.0
    x = torch.from_numpy(pixels)[:, None].expand(-1, 3, -1, -1)
    mean = torch.tensor(contract["mean"])[None, :, None, None]
    std = torch.tensor(contract["std"])[None, :, None, None]
    with torch.no_grad():
        probs = torch.sigmoid(model((x - mean) / std)).numpy()
    expected = test[[f"prob_{f}" for f in findings]].to_numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_evaluation_tables_cover_every_trained_cell(trained: tuple[Path, str]) -> None:
    project, _ = trained
    table = pd.read_csv(project / "data/demo/08_reporting/evaluation/study_table.csv")
    assert {(s, i) for s in SOURCES for i in ("random", "mimic")} <= set(zip(table["source"], table["init"]))
    report = (project / "data/demo/08_reporting/evaluation/study_table.md").read_text()
    # (p-value columns need test splits with both classes: the full study test checks them on the real demo)
    assert all(f"## {s}: " in report for s in SOURCES) and "## Controls" in report
    for name in ("forest.png", "auroc_differences.png"):
        assert (project / "data/demo/08_reporting/evaluation/figures" / name).read_bytes()[:4] == b"\x89PNG"
    assert (project / "data/demo/08_reporting/evaluation/roc_vindr.png").is_file()


def test_one_source_runs_alone_through_every_stage(tiny_demo: Path, tmp_path: Path) -> None:
    project = copy_project(tiny_demo, tmp_path / "project")
    params = {"finetuning": {"inits": ["random", "mimic"], "train": {"epochs": 1}}, "evaluation": {"n_resamples": 50}}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        run_kedro(project, env="demo", namespaces=["nih"], params=params)
        run_kedro(project, env="demo", params=params, tags=["summary"])
    assert not (project / "data/demo/02_intermediate/vindr").exists()
    assert not _card(project, "random", "nih")["skipped"]
    assert "run `kedro run --pipelines pretraining` first" in _card(project, "mimic", "nih")["reason"]
    table = pd.read_csv(project / "data/demo/08_reporting/evaluation/study_table.csv", keep_default_na=False)
    trained = table[table["status"] == "trained"]
    assert set(zip(trained["source"], trained["init"])) == {("nih", "random")}
    notes = dict(zip(zip(table["source"], table["init"]), table["note"]))  # every configured arm, with why
    assert "run `kedro run --pipelines pretraining` first" in notes["nih", "mimic"]
    assert notes["vindr", "random"] == "not trained yet: run `kedro run --pipelines finetuning --namespaces vindr.random`"
    prevalence = pd.read_csv(project / "data/demo/08_reporting/harmonization/prevalence.csv")
    assert set(prevalence["source"]) == {"nih"}
