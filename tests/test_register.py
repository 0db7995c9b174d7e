"""cxrinit-register refuses what would put cells in the wrong store, and says where cells are."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrinit.tracking.pulled import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for env in ("base", "demo", "local"):
        (tmp_path / "conf" / env).mkdir(parents=True)
    (tmp_path / "mlflow.yaml").write_text("tracking_uri: sqlite:///mlflow.db\nexperiment: cxrinit\n")
    (tmp_path / "data/06_models").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def test_a_mistyped_environment_registers_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "dmo", "data/06_models"]) == 2
    err = capsys.readouterr().err
    assert "--env dmo: no such Kedro environment" in err and "base, demo, local" in err
    assert not (project / "mlflow.db").exists()  # no store was created for it


def test_a_folder_without_cards_says_where_cells_are(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data/06_models"]) == 1
    err = capsys.readouterr().err
    assert "no cell card (*.card.json) under data/06_models" in err and "data/demo/06_models" in err
