"""Logs people can use: one line per record in files and pipes, a log file per run, short failures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cxrinit import logs
from tests.conftest import make_project

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def kedro(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kedro run`` as a user types it, output to a pipe (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "kedro", "run", *args], cwd=project, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("logs") / "project")


def test_a_bad_setting_ends_with_the_projects_message_and_the_traceback_goes_to_the_log(project: Path) -> None:
    done = kedro(project, "--env", "demo", "--pipelines", "demo", "--params", "evaluation.n_resample=10")
    assert done.returncode == 1
    out = (done.stdout + done.stderr).strip().splitlines()
    assert "Traceback" not in done.stdout + done.stderr
    assert len(out) < 15, out
    tail = "\n".join(out[-3:])
    assert "kedro run failed: ConfigError: invalid settings (environment 'demo')" in tail
    assert "`evaluation.n_resample` (from --params or -c): unknown key (did you mean `n_resamples`?)" in tail
    where = re.search(r"the full traceback is in (logs/\S+\.log)", out[-1])
    assert where, out[-1]
    text = (project / where.group(1)).read_text()
    assert "Traceback (most recent call last)" in text and "ConfigError" in text


@pytest.mark.slow
def test_a_run_logs_one_line_per_record_to_the_console_and_to_its_own_file(project: Path) -> None:
    before = set((project / "logs").glob("*.log")) if (project / "logs").exists() else set()
    done = kedro(project, "--env", "demo", "--pipelines", "demo", "--namespaces", "demo.nih", "--params",
                 "demo.workers=1,demo.sources.nih.n_patients=8")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(RECORD.match(line) for line in lines), [x for x in lines if not RECORD.match(x)][:3]
    assert max(map(len, lines)) > 120  # a long record stayed on its line (rich would wrap it at 80 columns)
    new = sorted(set((project / "logs").glob("*.log")) - before)
    assert len(new) == 1
    records = new[0].read_text().splitlines()
    assert any("Completed node: demo.nih" in r or "Completed 1 out of 1 tasks" in r for r in records)
    assert all(RECORD.match(r) for r in records)


def _raise_on_purpose() -> None:
    raise ValueError("a message written for the user")


def test_project_errors_are_told_from_bugs() -> None:
    from kedro.io import DatasetError

    from cxrinit.config import ConfigError
    from cxrinit.labels import LabelDataError

    def caught(fn) -> BaseException:
        try:
            fn()
        except Exception as err:  # noqa: BLE001
            return err
        raise AssertionError("no error")

    assert logs.is_project_error(ConfigError(["`a`: bad"]))
    assert logs.is_project_error(DatasetError("Failed while loading data from dataset"))
    # a `raise` in cxrinit's own code is deliberate ...
    from cxrinit.imaging.store import _validate_sizes

    assert logs.is_project_error(caught(lambda: _validate_sizes((0,))))
    # ... an error inside a library (or a test helper outside cxrinit) is not
    assert not logs.is_project_error(caught(lambda: float("x")))
    assert not logs.is_project_error(caught(_raise_on_purpose))
    wrapped = caught(lambda: _wrap(LabelDataError("inner message")))
    assert logs.is_project_error(wrapped) and logs.short_message(wrapped) == "LabelDataError: inner message"


def _wrap(error: Exception) -> None:
    from kedro.io import DatasetError

    try:
        raise error
    except Exception as inner:
        raise DatasetError("Failed while loading data from dataset x") from inner


def test_an_unknown_or_disabled_namespace_is_explained(project: Path) -> None:
    done = kedro(project, "--env", "demo", "--pipelines", "harmonization", "--namespaces", "nihh")
    assert done.returncode == 1
    assert "`nihh`: no such namespace (did you mean `nih`?)" in done.stderr
    done = kedro(project, "--env", "demo", "--pipelines", "harmonization", "--namespaces", "nih",
                 "--params", "sources.nih.enabled=false")
    assert done.returncode == 1
    assert "`nih`: the source 'nih' is disabled in this environment (sources.nih.enabled: false)" in done.stderr


def test_a_mistyped_environment_or_pipeline_is_one_line_not_a_traceback(project: Path) -> None:
    done = kedro(project, "--env", "dmo")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "kedro run failed: no Kedro environment 'dmo': conf/dmo does not exist (environments here: base, demo" \
        in done.stderr
    done = kedro(project, "--env", "demo", "--pipelines", "finetunin")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "kedro run failed: Failed to find the pipeline named 'finetunin'" in done.stderr
