"""The shell commands of README.md and docs/*.md, as the tests that run them read them.

Every ```bash block starts with a comment saying who runs it: ``# run by <file>`` (that test reads
the block with :func:`doc_commands` and executes its commands, adding only options it names, e.g.
small demo sizes), or why no test can: ``# needs real data``, ``# needs a GPU``, ``# needs the
public weights``. ``tests/test_docs.py`` holds every block to that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NEEDS = ("needs real data", "needs a GPU", "needs the public weights")
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One ```bash block: where it is, its first-line tag, and its commands (comments and
    continuation lines joined; ``# section`` lines start a new ``section``)."""

    doc: str
    line: int
    tag: str
    commands: list[tuple[str, str]]  # (section, command)


def blocks() -> list[Block]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for m in _BLOCK.finditer(text):
            body = m.group(1).replace("\\\n", " ")
            lines = body.splitlines()
            first = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else ""
            tag = first if first.startswith("run by ") or first.startswith(NEEDS) else ""
            section, commands = "", []
            for raw in lines[1:] if tag else lines:
                if raw.strip().startswith("#"):
                    section = raw.strip().lstrip("# ").strip()
                    continue
                command = _strip_comment(raw).strip()
                if command:
                    commands.append((section, " ".join(command.split())))
            found.append(Block(path.relative_to(REPO).as_posix(), text[:m.start()].count("\n") + 1, tag, commands))
    return found


def _strip_comment(line: str) -> str:
    """The command without its trailing ``# comment`` (the docs never put `` #`` inside a command)."""
    return re.split(r"\s#", line, maxsplit=1)[0]


def doc_commands(doc: str, runner: str) -> list[tuple[str, str]]:
    """(section, command) of the blocks of ``doc`` tagged ``# run by <runner>`` (e.g. ``tests/test_dvc.py``)."""
    chosen = [b for b in blocks() if b.doc == doc and b.tag.startswith(f"run by {runner}")]
    if not chosen:
        raise LookupError(f"{doc} has no block tagged '# run by {runner}'")
    return [c for b in chosen for c in b.commands]


def with_env(command: str, env: str) -> str:
    """A documented ``kedro run`` as the demo runs it: ``--env <env>`` after ``kedro run``."""
    return command.replace("kedro run", f"kedro run --env {env}", 1) if "--env" not in command else command


__all__ = ["DOCS", "NEEDS", "Block", "blocks", "doc_commands", "with_env"]
