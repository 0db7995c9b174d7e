"""Every shell command of README.md and docs/ is run by a test, or says why none can (tests/docs.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.docs import DOCS, NEEDS, REPO, blocks, doc_commands

_COMMAND = re.compile(r"^ {4}(kedro|cxrinit-|dvc |mlflow |python -m|python3|torchrun|pip |git |export )")


def test_every_shell_block_says_who_runs_it() -> None:
    found = blocks()
    assert len(found) >= 20
    untagged = [f"{b.doc}:{b.line}" for b in found if not b.tag]
    assert not untagged, f"```bash blocks without a first line '# run by <test>' or '# needs ...': {untagged}"
    for b in found:
        if b.tag.startswith(NEEDS):
            continue
        runner = b.tag.removeprefix("run by ").split(" ", 1)[0]
        assert (REPO / runner).is_file(), f"{b.doc}:{b.line}: {runner} does not exist"
        source = (REPO / runner).read_text()
        if runner == ".ci/run":  # CI runs these lines as they are written
            lines = {" ".join(line.split()) for line in source.splitlines()}
            missing = [c for _, c in b.commands if c not in lines]
            assert not missing, f"{b.doc}:{b.line}: .ci/run does not run {missing}"
        else:
            assert f'doc_commands("{b.doc}", "{runner}")' in source, \
                f"{b.doc}:{b.line}: {runner} does not read this block (doc_commands(\"{b.doc}\", \"{runner}\"))"


def test_commands_are_in_shell_blocks_not_indented_code() -> None:
    """An indented command escapes the check above: the docs write commands in ```bash blocks only."""
    stray = []
    for path in DOCS:
        inside = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("```"):
                inside = not inside
            elif not inside and _COMMAND.match(line):
                stray.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not stray, stray


def test_the_example_globals_are_copied_as_datasets_md_says(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    for example in (REPO / "conf/local").glob("*.example.yml"):  # what a clone's conf/local holds
        (project / "conf/local" / example.name).write_text(example.read_text())
    for _, command in doc_commands("docs/datasets.md", "tests/test_docs.py"):
        subprocess.run(command, shell=True, cwd=project, check=True)
    assert (project / "conf/local/globals.yml").read_text() == \
        (REPO / "conf/local/globals.example.yml").read_text()


@pytest.mark.parametrize("doc", ["README.md", "docs/mlflow.md"])
def test_the_mlflow_ui_command_serves_the_projects_store(doc: str, tmp_path: Path) -> None:
    from tests.test_mlflow_server import free_port, stop_server, wait_healthy

    documented = {"README.md": doc_commands("README.md", "tests/test_docs.py"),
                  "docs/mlflow.md": doc_commands("docs/mlflow.md", "tests/test_docs.py")}
    ((_, command),) = documented[doc]
    port = free_port()
    argv = [sys.executable, "-m", *shlex.split(command.replace("--port 5000", f"--port {port}"))]
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=make_project(tmp_path / "project"), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
    finally:
        stop_server(proc)
