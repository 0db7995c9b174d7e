"""Logs people can use: one line per record outside a terminal, a plain file per run, short failures.

- Console (conf/logging.yml, :func:`fit_console`): one plain line per record when the output is a
  file, a pipe or CI (Kedro's rich handler wraps at 80 columns there, splitting names mid-word);
  Kedro's rich handler in a terminal.
- ``logs/<session id>.log``: every ``kedro run`` writes its records there, plain, one per line;
  a failure adds its full traceback.
- :func:`is_project_error` tells a failure the project explains (a bad setting, a missing file, a
  refused run) from a bug; ``kedro run`` (:mod:`cxrinit.cli`) ends the former with its message
  and the log file's path instead of Kedro's traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

#: Folder of the per-run log files, relative to the project (git- and DVC-ignored).
LOG_DIR = "logs"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Exceptions of these modules carry messages written for the user.
_USER_FACING = ("kedro.io", "kedro.framework.context", "pydantic")

_run_file: logging.FileHandler | None = None
_failed_run: Path | None = None  # log file of a run that failed, until record_failure adds the traceback


def console_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def fit_console(terminal: bool | None = None) -> None:
    """Console handlers to suit the output: Kedro's rich handler in a terminal, one plain line per
    record anywhere else (rich wraps at 80 columns there). ``terminal``: None detects it."""
    terminal = console_is_terminal() if terminal is None else terminal
    root = logging.getLogger()
    for handler in list(root.handlers):
        rich = type(handler).__name__ == "RichHandler"
        console = isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
        if terminal and console and not rich:
            from kedro.logging import RichHandler

            replacement: logging.Handler = RichHandler(rich_tracebacks=True)
        elif not terminal and rich:
            replacement = logging.StreamHandler(sys.stderr)
            replacement.setFormatter(logging.Formatter(FORMAT))
        else:
            continue
        replacement.setLevel(handler.level)
        root.removeHandler(handler)
        root.addHandler(replacement)


def start_run_log(project_path: str | Path, session_id: str) -> Path:
    """Send every record of this run to ``logs/<session_id>.log`` under the project; returns its path."""
    global _run_file
    stop_run_log()
    folder = Path(project_path) / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(session_id)}.log"
    handler = logging.FileHandler(path, encoding="utf-8", delay=False)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    _run_file = handler
    return path


def run_log() -> Path | None:
    """The current run's log file, if a run has started in this process."""
    return Path(_run_file.baseFilename) if _run_file is not None else None


def stop_run_log(failed: bool = False) -> None:
    """Close the run's log file; ``failed`` keeps its path for :func:`record_failure`."""
    global _run_file, _failed_run
    _failed_run = run_log() if failed else None
    if _run_file is not None:
        logging.getLogger().removeHandler(_run_file)
        _run_file.close()
        _run_file = None


def record_failure(error: BaseException, project_path: str | Path) -> Path:
    """Append ``error``'s full traceback to the failed run's log file (a new file if no run started)."""
    path = run_log() or _failed_run
    stop_run_log()  # also forgets _failed_run: the traceback is written once
    if path is None:
        from datetime import datetime, timezone

        folder = Path(project_path) / LOG_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H.%M.%S.%fZ')}.log"
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(traceback.format_exception(error)))
    return path


def is_project_error(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is a failure the project explains: an exception class of
    cxrinit, a Kedro dataset error, a pydantic validation error, or an exception that cxrinit code
    raised on purpose (a ``raise`` statement in cxrinit, not an error inside a library it called)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        module = type(error).__module__
        if module.startswith("cxrinit") or module.startswith(_USER_FACING):
            return True
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            last = frames[-1]
            if "/cxrinit/" in last.filename.replace("\\", "/") and (last.line or "").lstrip().startswith("raise"):
                return True
        error = error.__cause__ or error.__context__
    return False


def short_message(error: BaseException) -> str:
    """The message of the innermost project error ``error`` wraps (Kedro adds its own prefixes)."""
    inner = error
    while True:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or not is_project_error(nxt):
            break
        inner = nxt
    name = type(inner).__name__
    return f"{name}: {inner}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.T" else "-" for c in name)


__all__ = ["LOG_DIR", "console_is_terminal", "fit_console", "is_project_error", "record_failure", "run_log",
           "short_message", "start_run_log", "stop_run_log"]
