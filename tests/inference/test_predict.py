"""predict_files / the CLI / the serving payload against a tiny model registered as production registers them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from inferencefiles import FINDINGS, store_preprocessing, tiny_vit, write_images

from cxrinit import tracking
from cxrinit.imaging import PixelStore, Recipe, build_store
from cxrinit.inference import (
    ModelNotFound,
    describe_model,
    load_model,
    predict_files,
    preprocess_for_serving,
    probabilities_from_response,
)
from cxrinit.inference.cli import main
from cxrinit.models.contract import InputContract
from cxrinit.training.predict import predict as training_predict

REPO = Path(__file__).resolve().parents[2]
NAME = "cxrinit-test-tiny"
STORE_SIZE = 48  # the store is not at the contract size: the input pipeline's resize is part of the path
PROBS = [f"prob_{f}" for f in FINDINGS]


@dataclass
class Registered:
    uri: str
    images: Path
    expected: dict[str, str]  # relative path -> status
    reference: dict[str, pd.DataFrame]  # version -> image_id x prob_<f>, through the store + training predict


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    root = tmp_path_factory.mktemp("inference")
    images = root / "images"
    expected = write_images(images)
    # letterbox: a recipe other than the default, so a predictor that ignored the tag would be caught
    recipe = Recipe(fit="letterbox")
    ids = [Path(rel).with_suffix("").as_posix() for rel in expected]
    index = build_store(pd.DataFrame({"image_id": ids, "path": list(expected)}), images, root / "store",
                        sizes=(STORE_SIZE,), recipe=recipe, workers=1)
    assert dict(zip(index["image_id"], index["status"])) == dict(zip(ids, expected.values()))
    noted = dict(zip(index["image_id"], index["detail"]))  # ingestion keeps the decoder's notes too
    assert "EXIF Orientation 6 applied" in noted["c/rg1_sideways"]
    assert "no file meta group" in noted["c/rg1_no_file_meta"] and "ignored window" in noted["c/rg1_empty_window"]
    store = PixelStore(root / "store" / str(STORE_SIZE))
    contract = InputContract(3, 32, (0.5, 0.45, 0.4), (0.25, 0.2, 0.3), "init")
    ok_ids = [i for i, s in zip(ids, expected.values()) if s == "ok"]
    uri = f"sqlite:///{root / 'mlflow.db'}"
    shutil.copy(REPO / "mlflow.yaml", root / "mlflow.yaml")
    reference = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "1")  # skip pip inference (10 s): default requirements
        mlflow.set_tracking_uri(uri)
        config = tracking.load_config(root)  # register_model reads the alias name from it
        try:
            experiment = mlflow.create_experiment("inference-test", artifact_location=(root / "mlartifacts").as_uri())
            for version, seed, score in (("1", 0, 0.7), ("2", 1, 0.6)):  # v2 scores lower: the alias stays on v1
                model = tiny_vit(seed)
                probs = training_predict(model, store, ok_ids, contract, batch_size=2, device="cpu", precision="fp32")
                reference[version] = pd.DataFrame(probs, index=ok_ids, columns=PROBS)
                with mlflow.start_run(experiment_id=experiment):
                    out = tracking.register_model(config, model, name=NAME, contract=contract.to_dict(),
                                                  findings=FINDINGS,
                                                  selection={"metric": "val_auroc_mean", "value": score, "epoch": 1},
                                                  lineage={"init": "tiny", "source": "test"},
                                                  preprocessing=store_preprocessing(root / "store", STORE_SIZE))
                assert out["version"] == version
        finally:
            mlflow.set_tracking_uri(None)  # leave no process-wide store behind for other tests
    return Registered(uri, images, expected, reference)


def by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("image_id")[PROBS]


def test_probabilities_equal_the_training_path_and_bad_files_are_reported(reg: Registered) -> None:
    probs, report = predict_files(NAME, [reg.images], tracking_uri=reg.uri, device="cpu", batch_size=3)
    assert list(probs.columns) == ["file", "image_id", *PROBS]
    ref = reg.reference["1"]
    assert sorted(probs["image_id"]) == sorted(ref.index)
    got = by_id(probs).loc[ref.index]
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-5)
    assert got.to_numpy().std() > 0.05  # the comparison is between values that differ across images
    # every input file is in the report with the store's status; notes.txt is no image and was not picked up
    statuses = dict(zip(report["file"], report["status"]))
    assert statuses == {str(reg.images / rel): status for rel, status in reg.expected.items()}
    bad = report[report["status"] != "ok"]
    assert not set(bad["file"]) & set(probs["file"])
    assert bad["detail"].str.len().gt(0).all()
    assert "truncated.png" in bad.set_index("status").loc["truncated", "detail"]


def test_files_viewers_open_are_predicted_as_the_plain_film(reg: Registered) -> None:
    """Empty window, no file meta group, EXIF-rotated JPEG: same input as the plain file, and a note."""
    files = sorted((reg.images / "c").iterdir())
    probs, report = predict_files(NAME, files, tracking_uri=reg.uri, device="cpu")
    assert set(report["status"]) == {"ok"}
    p = by_id(probs)
    np.testing.assert_allclose(p.loc["rg1_empty_window"], p.loc["rg1"], atol=1e-6)  # RG1's window clips nothing
    np.testing.assert_allclose(p.loc["rg1_no_file_meta"], p.loc["rg1"], atol=1e-6)
    np.testing.assert_allclose(p.loc["rg1_sideways"], p.loc["rg1_upright"], atol=2e-3)
    notes = dict(zip(report["image_id"], report["detail"]))
    assert "ignored window" in notes["rg1_empty_window"]
    assert "no file meta group" in notes["rg1_no_file_meta"]
    assert "EXIF Orientation 6 applied" in notes["rg1_sideways"] and notes["rg1_upright"] == ""


def test_alias_and_version_select_different_versions(reg: Registered) -> None:
    files = sorted(reg.images.rglob("*.png"))[:2]
    best = by_id(predict_files(NAME, files, alias="best", tracking_uri=reg.uri, device="cpu")[0])
    v2 = by_id(predict_files(NAME, files, version=2, tracking_uri=reg.uri, device="cpu")[0])
    v2_uri = by_id(predict_files(f"models:/{NAME}/2", files, tracking_uri=reg.uri, device="cpu")[0])
    # direct files: image_id is the file name without extension
    assert list(best.index) == [f.stem for f in files]
    rel = {f.stem: f.relative_to(reg.images).with_suffix("").as_posix() for f in files}
    for version, got in (("1", best), ("2", v2), ("2", v2_uri)):
        want = reg.reference[version].loc[[rel[i] for i in got.index]].to_numpy()
        np.testing.assert_allclose(got.to_numpy(), want, atol=1e-5)
    assert np.abs(best.to_numpy() - v2.to_numpy()).max() > 1e-3
    loaded = load_model(NAME, version=2, tracking_uri=reg.uri, device="cpu")  # load once, predict many times
    np.testing.assert_array_equal(by_id(predict_files(loaded, files)[0]).to_numpy(), v2.to_numpy())
    with pytest.raises(ValueError, match="already loaded"):
        predict_files(loaded, files, alias="best")
    assert describe_model(NAME, tracking_uri=reg.uri).version == "1"
    assert describe_model(NAME, version=2, tracking_uri=reg.uri).uri == f"models:/{NAME}/2"


def test_unknown_model_alias_or_version_is_a_clear_error(reg: Registered, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ModelNotFound, match=f"no registered model 'cxrinit-nope'.*{NAME}"):
        describe_model("cxrinit-nope", tracking_uri=reg.uri)
    with pytest.raises(ModelNotFound, match=r"no alias 'champion' \(aliases: best -> version 1; versions: \[1, 2\]"):
        describe_model(NAME, alias="champion", tracking_uri=reg.uri)
    with pytest.raises(ModelNotFound, match=r"no version 7 \(versions: \[1, 2\]\)"):
        describe_model(NAME, version=7, tracking_uri=reg.uri)
    missing_db = f"sqlite:///{tmp_path / 'nowhere.db'}"
    with pytest.raises(ModelNotFound, match="does not exist"):
        describe_model(NAME, tracking_uri=missing_db)
    assert not (tmp_path / "nowhere.db").exists()  # no empty store was created on the way
    code = main(["--model", "cxrinit-nope", "--tracking-uri", reg.uri, "--out", str(tmp_path / "p.csv"),
                 str(reg.images)])
    assert code == 2
    assert "error: no registered model 'cxrinit-nope'" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


def test_cli_writes_probabilities_and_report(reg: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", reg.uri)  # no --tracking-uri: the environment names the store
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "absent.dcm"
    code = main(["--model", NAME, "--out", "out/pred.parquet", "--device", "cpu", "--batch-size", "2", "-q",
                 str(reg.images / "a"), str(reg.images / "bad"), str(reg.images / "b" / "chest.jpg"), str(missing)])
    assert code == 0
    probs = pd.read_parquet(tmp_path / "out" / "pred.parquet")
    report = pd.read_csv(tmp_path / "out" / "pred.report.csv", keep_default_na=False)
    assert list(probs["image_id"]) == ["chest16", "chest8", "chest"]
    ref = reg.reference["1"].loc[["a/chest16", "a/chest8", "b/chest"]]
    np.testing.assert_allclose(probs[PROBS].to_numpy(), ref.to_numpy(), atol=1e-5)
    assert dict(zip(report["image_id"], report["status"])) == {
        "chest16": "ok", "chest8": "ok", "empty": "zero_bytes", "nopixels": "no_pixel_data",
        "notimage": "wrong_format", "truncated": "truncated", "chest": "ok", "absent": "missing"}
    err = capsys.readouterr().err
    assert "3 of 8 inputs predicted" in err and "'missing': 1" in err


@pytest.mark.parametrize("what", ["a missing file", "a folder without images", "only unreadable files"])
def test_cli_exits_non_zero_when_nothing_could_be_predicted(reg: Registered, tmp_path: Path, what: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    given = {"a missing file": [str(tmp_path / "absent.dcm")],
             "a folder without images": [str(tmp_path / "empty")],
             "only unreadable files": [str(reg.images / "bad")]}[what]
    (tmp_path / "empty").mkdir()
    code = main(["--model", NAME, "--tracking-uri", reg.uri, "--out", str(tmp_path / "p.csv"), "-q", *given])
    assert code == 1, what
    assert "error: " in capsys.readouterr().err


def test_cli_help_answers_without_loading_torch_or_mlflow() -> None:
    import subprocess
    import sys

    probe = ("import sys; from cxrinit.inference.cli import build_parser; build_parser().format_help(); "
             "print(sorted(m for m in ('torch', 'mlflow', 'timm', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_serving_payload_runs_through_mlflow_scoring(reg: Registered, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient
    from mlflow.pyfunc import scoring_server

    monkeypatch.setenv("MLFLOW_DEFAULT_PREDICTION_DEVICE", "cpu")
    files = [reg.images / "b" / "deep" / "mono1.DCM", reg.images / "bad" / "empty.png", reg.images / "b" / "chest.jpg"]
    payload, report = preprocess_for_serving(files, NAME, tracking_uri=reg.uri)
    assert list(report["status"]) == ["ok", "zero_bytes", "ok"]
    assert np.asarray(payload["inputs"]).shape == (2, 3, 32, 32)
    # the scoring server's own request handling, as `mlflow models serve` runs it
    location = MlflowClient(tracking_uri=reg.uri, registry_uri=reg.uri).get_model_version_download_uri(NAME, "1")
    served = mlflow.pyfunc.load_model(location)
    reply = scoring_server.invocations(json.dumps(payload), "application/json", served,
                                       served.metadata.get_input_schema())
    assert reply.status == 200, reply.response
    probs = probabilities_from_response(reply.response, FINDINGS)
    want = reg.reference["1"].loc[["b/deep/mono1", "b/chest"]].to_numpy()
    np.testing.assert_allclose(probs.to_numpy(), want, atol=1e-5)


def test_decoder_pool_gives_the_same_probabilities(reg: Registered) -> None:
    probs, report = predict_files(NAME, [reg.images / "a", reg.images / "b", reg.images / "bad" / "truncated.png"],
                                  tracking_uri=reg.uri, device="cpu", workers=2, batch_size=2)
    assert list(report["status"]) == ["ok", "ok", "ok", "ok", "truncated"]
    ref = reg.reference["1"]
    rel = {"chest16": "a/chest16", "chest8": "a/chest8", "chest": "b/chest", "deep/mono1": "b/deep/mono1"}
    np.testing.assert_allclose(by_id(probs).to_numpy(), ref.loc[[rel[i] for i in probs["image_id"]]].to_numpy(),
                               atol=1e-5)


def test_exported_graph_is_rebuilt_for_a_device(reg: Registered) -> None:
    """What --device cuda runs (device-moved torch.export graph), here onto the CPU: same logits."""
    from mlflow import MlflowClient

    from cxrinit.inference.registry import exported_on

    location = MlflowClient(tracking_uri=reg.uri, registry_uri=reg.uri).get_model_version_download_uri(NAME, "1")
    archive = Path(location.removeprefix("file://")) / "data" / "model.pt2"
    loaded = load_model(NAME, tracking_uri=reg.uri, device="cpu")
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_array_equal(exported_on(archive, torch.device("cpu"))(x).numpy(), loaded.module(x).numpy())
