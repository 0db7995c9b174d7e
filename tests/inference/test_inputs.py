"""Input expansion, model references, registry tags and file decoding: no model, no MLflow store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from inferencefiles import FINDINGS, encode, radiograph

from cxrinit.imaging import Recipe, Status, process_image
from cxrinit.inference import ModelSpec, ModelTagsError, decode_files, expand_inputs, parse_model_ref
from cxrinit.inference.cli import main
from cxrinit.models.contract import InputContract

CONTRACT = InputContract(3, 32, (0.5,) * 3, (0.25,) * 3).to_dict()


def png(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(".png", (radiograph(70, 80, seed) * 255).astype(np.uint8)))
    return path


def test_folders_expand_recursively_and_files_are_kept_as_given(tmp_path: Path) -> None:
    top = tmp_path / "top"
    for rel in ("x/1.png", "x/sub/2.JPG", "y/3.dcm", "y/4.dicom", "5.jpeg"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(b"whatever")
    (top / "y" / "readme.txt").write_text("skip me")
    (tmp_path / "empty").mkdir()
    odd = tmp_path / "scan.bin"  # named explicitly: tried whatever its extension
    odd.write_bytes(b"x")
    files, skipped = expand_inputs([top, odd, tmp_path / "empty", top / "x" / "1.png"])
    assert [f.image_id for f in files] == ["5", "x/1", "x/sub/2", "y/3", "y/4", "scan"]
    assert files[0].file == str(top / "5.jpeg") and files[0].real == (top / "5.jpeg").resolve()
    assert [(s.status, s.file) for s in skipped] == [(Status.MISSING, str(tmp_path / "empty")),
                                                     (Status.DUPLICATE_ID, str(top / "x" / "1.png"))]
    assert "no .dcm/.dicom/.png/.jpg/.jpeg files" in skipped[0].detail
    assert f"same file as {top / 'x' / '1.png'}" in skipped[1].detail


def test_colliding_image_ids_fall_back_to_the_full_path(tmp_path: Path) -> None:
    a, b = png(tmp_path / "p1" / "view1.png"), png(tmp_path / "p2" / "view1.png")
    c = png(tmp_path / "p3" / "view2.png")
    files, skipped = expand_inputs([a, b, c])
    assert not skipped
    assert [f.image_id for f in files] == [a.resolve().with_suffix("").as_posix(),
                                           b.resolve().with_suffix("").as_posix(), "view2"]


def test_symlink_loops_do_not_recurse_forever(tmp_path: Path) -> None:
    png(tmp_path / "d" / "a.png")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    files, _ = expand_inputs([tmp_path / "d"])
    assert [f.image_id for f in files] == ["a"]


def test_decode_files_matches_the_store_step_and_follows_links(tmp_path: Path) -> None:
    target = png(tmp_path / "elsewhere" / "real.png", seed=3)
    link = tmp_path / "here" / "link.png"
    link.parent.mkdir()
    os.symlink(target, link)
    recipe = Recipe(equalize=False)
    results = dict(decode_files([link, target, tmp_path / "here" / "gone.png"], recipe, 40))
    want = process_image(target.parent, target.name, (40,), recipe).images[40]
    assert results[0].status is Status.OK and np.array_equal(results[0].images[40], want)
    assert np.array_equal(results[1].images[40], want)
    assert results[2].status is Status.MISSING


@pytest.mark.parametrize(("ref", "kwargs", "want"), [
    ("cxrinit-vindr-dinov2", {}, ("cxrinit-vindr-dinov2", "best", None)),
    ("cxrinit-vindr-dinov2", {"alias": "champion"}, ("cxrinit-vindr-dinov2", "champion", None)),
    ("cxrinit-vindr-dinov2", {"version": 3}, ("cxrinit-vindr-dinov2", None, "3")),
    ("models:/cxrinit-nih-mimic@best", {}, ("cxrinit-nih-mimic", "best", None)),
    ("models:/cxrinit-nih-mimic/12", {}, ("cxrinit-nih-mimic", None, "12")),
    ("models:/cxrinit-nih-mimic", {"version": "2"}, ("cxrinit-nih-mimic", None, "2")),
])
def test_model_references(ref: str, kwargs: dict, want: tuple) -> None:
    assert parse_model_ref(ref, **kwargs) == want


@pytest.mark.parametrize(("ref", "kwargs", "match"), [
    ("m", {"alias": "best", "version": 1}, "not both"),
    ("models:/m@best", {"version": 2}, "already selects"),
    ("models:/m-0123abc", {}, "logged-model ids"),
    ("runs:/abc/model", {}, "registered-model name"),
    ("m", {"version": "latest"}, "positive integer"),
])
def test_bad_model_references(ref: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_model_ref(ref, **kwargs)


def tags(**extra: str) -> dict[str, str]:
    prep = {"recipe": Recipe(fit="letterbox").to_dict(), "store_size": 48}
    return {"input_contract": json.dumps(CONTRACT), "findings": json.dumps(FINDINGS),
            "preprocessing": json.dumps(prep), **extra}


def test_spec_from_production_tags() -> None:
    spec = ModelSpec.from_tags("m", "4", "models:/m@best", tags())
    assert (spec.recipe, spec.store_size, spec.findings) == (Recipe(fit="letterbox"), 48, FINDINGS)
    assert spec.contract == InputContract.from_dict(CONTRACT)


def test_spec_needs_preprocessing_or_an_explicit_fill_in() -> None:
    old = tags(preprocessing="{}")  # what register_model writes when no preprocessing was given
    with pytest.raises(ModelTagsError, match=r"does not record recipe and store_size.*--store-size"):
        ModelSpec.from_tags("m", "1", "models:/m/1", old)
    spec = ModelSpec.from_tags("m", "1", "models:/m/1", old, recipe=Recipe(), store_size=224)
    assert (spec.recipe, spec.store_size) == (Recipe(), 224)
    with pytest.raises(ModelTagsError, match="trained on 48 px"):
        ModelSpec.from_tags("m", "1", "models:/m/1", tags(), store_size=224)
    with pytest.raises(ModelTagsError, match="records its own"):
        ModelSpec.from_tags("m", "1", "models:/m/1", tags(), recipe=Recipe())


@pytest.mark.parametrize(("broken", "match"), [
    ({"findings": "[]"}, "non-empty JSON list"),
    ({"findings": "Cardiomegaly,Edema"}, "not valid JSON"),
    ({"input_contract": json.dumps({"size": 32})}, "missing"),
])
def test_spec_rejects_broken_tags(broken: dict, match: str) -> None:
    with pytest.raises((ModelTagsError, ValueError), match=match):
        ModelSpec.from_tags("m", "1", "models:/m/1", tags(**broken))
    without = tags()
    del without["findings"]
    with pytest.raises(ModelTagsError, match="tag 'findings' is missing"):
        ModelSpec.from_tags("m", "1", "models:/m/1", without)


def test_cli_refuses_nothing_to_predict_and_odd_output_names(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["--model", "m", "--out", str(tmp_path / "p.csv"), str(tmp_path / "empty")]) == 1
    assert "no image files found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "m", "--out", str(tmp_path / "p.xlsx"), str(tmp_path)])
    assert exit_info.value.code == 2
    assert "use a .csv or .parquet" in capsys.readouterr().err


def test_a_mistyped_cell_folder_or_a_missing_store_says_what_to_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    films = png(tmp_path / "films" / "a.png")
    monkeypatch.chdir(tmp_path)
    assert main(["--model", "data/demo/06_models/vindr/nope", "--out", "p.csv", str(films)]) == 2
    err = capsys.readouterr().err
    assert "data/demo/06_models/vindr/nope: no trained cell here (no nope.card.json beside it)" in err
    (tmp_path / "data/demo").mkdir(parents=True)
    (tmp_path / "data/demo/mlflow.db").write_bytes(b"")
    (tmp_path / "mlflow.yaml").write_text("tracking_uri: sqlite:///mlflow.db\nexperiment: cxrinit\n")  # a demo-only project
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["--model", "cxrinit-vindr-random", "--out", "p.csv", str(films)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--tracking-uri sqlite:///data/demo/mlflow.db" in err
