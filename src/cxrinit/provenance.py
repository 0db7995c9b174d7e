"""Where an output came from: the Kedro environment, the git commit, and whether the data are the synthetic demo.

Every table, figure, model card and registered model version carries it, so a number can never be
taken for another environment's or mistaken for a result on real radiographs. ``kedro run`` puts it
in the catalog as the dataset ``provenance`` (:mod:`cxrinit.hooks`); ``synthetic_data`` comes from
the environment's globals (``conf/demo/globals.yml`` sets it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Globals key that marks an environment's data as the synthetic demo.
SYNTHETIC_KEY = "synthetic_data"
#: Model-version / run tag prefix.
TAG = "provenance."


@dataclass(frozen=True)
class Provenance:
    """``environment``: the Kedro environment; ``git_commit``: sha (``-dirty`` with local changes) or
    ``unknown``; ``synthetic``: the data are the generated demo, not radiographs."""

    environment: str = "local"
    git_commit: str = "unknown"
    synthetic: bool = False

    @classmethod
    def of(cls, project_path: str | Path | None, environment: str | None, globals_: dict[str, Any]) -> Provenance:
        """The provenance of a run of the project at ``project_path`` in ``environment``."""
        from cxrinit.tracking.config import git_commit

        return cls(environment=environment or "local", git_commit=git_commit(Path(project_path) if project_path else None),
                   synthetic=bool(globals_.get(SYNTHETIC_KEY, False)))

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Provenance | None:
        """Read back :meth:`tags` (None when the tags hold none: a version registered before they existed)."""
        if f"{TAG}synthetic_data" not in tags:
            return None
        return cls(environment=tags.get(f"{TAG}environment", "unknown"),
                   git_commit=tags.get(f"{TAG}git_commit", "unknown"),
                   synthetic=tags.get(f"{TAG}synthetic_data") == "true")

    @property
    def short_commit(self) -> str:
        sha, dirty = self.git_commit.partition("-dirty")[:2]
        return (sha[:10] if sha != "unknown" else sha) + dirty

    @property
    def data(self) -> str:
        return "SYNTHETIC DEMO DATA (not radiographs)" if self.synthetic else "real data"

    def line(self) -> str:
        """One line for a table header or a figure footer."""
        return f"{self.data} · Kedro environment {self.environment} · commit {self.short_commit}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tags(self) -> dict[str, str]:
        """MLflow tags (``provenance.environment``, ``provenance.git_commit``, ``provenance.synthetic_data``)."""
        return {f"{TAG}environment": self.environment, f"{TAG}git_commit": self.git_commit,
                f"{TAG}synthetic_data": "true" if self.synthetic else "false"}


__all__ = ["SYNTHETIC_KEY", "Provenance"]
