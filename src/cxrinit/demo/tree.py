"""A planned demo dataset: the cohort, the writer's plan, and how to write it to disk."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cxrinit.demo.cohort import ImageSpec, sample_cohort

log = logging.getLogger(__name__)


def source_seed(seed: int, source: str) -> int:
    """A per-source seed: stable across Python runs (no ``hash()``), different per source."""
    digest = hashlib.blake2b(f"{seed}:{source}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


@dataclass
class DemoTree:
    """One synthetic source, planned but not yet written."""

    source: str
    plan: pd.DataFrame = field(repr=False)
    specs: list[ImageSpec] = field(default_factory=list, repr=False)
    workers: int = 1

    def write_to(self, root: Path) -> None:
        """Render every image and write the native files under ``root`` (an existing empty folder)."""
        from cxrinit.demo.phantom import render
        from cxrinit.demo.writers import WRITERS

        WRITERS[self.source].write(self.plan, self.specs, Path(root), render=render, workers=self.workers)


def plan_source(source: str, n_patients: int, cohort_args: Mapping[str, Any], *, seed: int, n_broken: int,
                workers: int, scale: float = 1.0) -> DemoTree:
    """Sample the cohort of ``source`` and let its writer plan ids, labels, splits and broken files.

    ``cohort_args`` are the keyword arguments of :func:`~cxrinit.demo.cohort.sample_cohort`; ``scale``
    multiplies the writer's film sizes (the same ids, labels and findings at any scale).
    """
    from cxrinit.demo.writers import WRITERS

    if source not in WRITERS:
        raise ValueError(f"demo: no writer for source {source!r}; known: {', '.join(sorted(WRITERS))}")
    cohort_args = {k: tuple(v) if isinstance(v, list) else v for k, v in cohort_args.items()}
    s = source_seed(seed, source)
    specs = sample_cohort(n_patients, s, **cohort_args)
    plan = WRITERS[source].plan(specs, seed=s, n_broken=n_broken, scale=scale)
    log.info("demo %s: %d patients, %d images planned (%d deliberately broken)",
             source, n_patients, len(plan), int((plan["broken"] != "").sum()))
    return DemoTree(source, plan, specs, workers=workers)

