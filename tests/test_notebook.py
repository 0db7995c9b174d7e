"""notebooks/results.ipynb: committed without outputs, and runs headless on the tiny demo's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_project
from tests.test_mlflow_server import run_study

NOTEBOOK = REPO / "notebooks" / "results.ipynb"
CELL_TIMEOUT_S = 300


def test_committed_without_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{NOTEBOOK} has no code cells"
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, f"{NOTEBOOK}: code cells {dirty} hold outputs; clear them before committing"


@pytest.mark.slow
def test_runs_headless_and_shows_the_study(tiny_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    project = copy_project(tiny_demo, tmp_path / "project")
    monkeypatch.chdir(project)
    run_study(project)
    study = (project / "data/demo/08_reporting/evaluation/study_table.csv").read_text()

    # The kernel inherits this environment (and MLFLOW_TRACKING_URI: loading the catalog opens the project's
    # MLflow hook); "python3" runs as this interpreter, so the venv's cxrinit and kedro are the ones imported.
    monkeypatch.setenv("CXRINIT_PROJECT", str(project))
    monkeypatch.setenv("CXRINIT_ENV", "demo")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    failures: list[str] = []

    def record(cell, cell_index: int, execute_reply: dict) -> None:
        # Kedro's rich traceback handler shows errors as display data, so nbclient's own message is blank.
        reply = execute_reply["content"]
        if reply["status"] != "ok":
            failures.append(f"cell {cell_index}: {reply.get('ename')}: {reply.get('evalue')}\n{cell.source}")

    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, allow_errors=True,
                            on_cell_executed=record, resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    assert not failures, "the notebook failed:\n" + "\n\n".join(failures)

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"project {project.resolve()}, Kedro environment 'demo'" in printed
    assert "SYNTHETIC DEMO DATA (not radiographs) · Kedro environment demo" in printed  # and on every figure

    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    table = next((h for h in html if "auroc_mean" in h), None)
    assert table is not None, "no output shows the study table"
    assert "vindr" in table and "random" in table and "mimic" in table and "p_vs_mimic" in table
    assert "vindr" in study and "p_vs_mimic" in study.splitlines()[0]

    markdown = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert any("SYNTHETIC DEMO DATA" in m and "test images of" in m and "vindr: per finding" in m for m in markdown)
    # ROC curves (one source trained), forest plot, prevalence heatmap
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 3
