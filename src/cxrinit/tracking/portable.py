"""A project's own MLflow store records artifact locations relative to the project, so it can move.

MLflow turns every local artifact location into an absolute path when it creates an experiment,
and derives every run's, logged model's and model version's location from it; a project copied,
moved or pulled elsewhere would keep writing into (and reading from) the old folder. For a SQLite
store, :func:`relativize_store` rewrites the locations that lie inside the project into paths
relative to it; MLflow resolves those against the working directory, which is the project root for
every ``kedro run`` and ``mlflow ui`` the docs show, and :func:`absolute_artifact_uri` resolves them
against the project for commands run from elsewhere (``cxrinit-predict``). Locations outside the
project (a tracking server, S3, a store elsewhere) are left as they are.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from .config import CONFIG_FILE

log = logging.getLogger(__name__)

#: (table, column) pairs of MLflow's schema that hold artifact locations.
LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                    ("logged_models", "artifact_location"), ("model_versions", "storage_location"),
                    ("model_versions", "source"))
_SQLITE = "sqlite:///"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI, else None."""
    return Path(tracking_uri[len(_SQLITE):]) if tracking_uri.startswith(_SQLITE) else None


def project_of_store(tracking_uri: str) -> Path | None:
    """The project a SQLite store belongs to: the nearest folder above it holding ``mlflow.yaml``."""
    db = sqlite_path(tracking_uri)
    if db is None:
        return None
    for folder in db.resolve().parents:
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def _local_path(location: str) -> str | None:
    if location.startswith("file://"):
        return unquote(urlparse(location).path)
    return location if location.startswith("/") else None


def relativize_store(tracking_uri: str, project: Path) -> int:
    """Rewrite the artifact locations of a SQLite store that lie inside ``project`` as paths relative
    to it; returns how many values changed (0 for other stores). Idempotent and quick (a few UPDATEs)."""
    db = sqlite_path(tracking_uri)
    if db is None or not db.is_file():
        return 0
    root = Path(project).resolve()
    changed = 0
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        for table, column in LOCATION_COLUMNS:
            if table not in tables:
                continue
            rows = conn.execute(f"select rowid, {column} from {table} where {column} like '/%' "  # noqa: S608
                                f"or {column} like 'file:%'").fetchall()
            for rowid, value in rows:
                path = _local_path(value)
                if path is None:
                    continue
                try:
                    rel = Path(path).resolve().relative_to(root).as_posix()
                except ValueError:
                    continue  # outside the project: someone else's location
                conn.execute(f"update {table} set {column} = ? where rowid = ?", (rel, rowid))  # noqa: S608
                changed += 1
    if changed:
        where = db.resolve().relative_to(root).as_posix() if db.resolve().is_relative_to(root) else str(db)
        log.info("MLflow store %s: %d artifact locations made relative to the project", where, changed)
    return changed


def absolute_artifact_uri(location: str, tracking_uri: str) -> str:
    """``location`` as a usable URI: a relative one (see :func:`relativize_store`) is resolved against
    the project of the SQLite store ``tracking_uri``; ValueError says what to do when there is none."""
    if "://" in location or location.startswith("/") or ":" in location.split("/", 1)[0]:
        return location
    project = project_of_store(tracking_uri)
    if project is None:
        raise ValueError(f"artifact location {location!r} is relative to a cxrinit project, and the store "
                         f"{tracking_uri} is in none (no {CONFIG_FILE} above it): run from the project folder")
    return (project / location).as_uri()


__all__ = ["LOCATION_COLUMNS", "absolute_artifact_uri", "project_of_store", "relativize_store", "sqlite_path"]
