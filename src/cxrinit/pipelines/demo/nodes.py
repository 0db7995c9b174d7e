"""Nodes of the ``demo`` pipeline."""

from __future__ import annotations

import pandas as pd

from cxrinit.config import DemoSettings, demo_disabled_message
from cxrinit.demo import tree


def plan_demo_source(demo: DemoSettings, source: str) -> tuple[tree.DemoTree, pd.DataFrame]:
    """Plan the synthetic ``source``: the tree to write (saved into ``<source>.raw``) and its answer key.

    Raises ``RuntimeError`` where the demo is not enabled (every environment but ``demo``): its roots
    may hold real data, and nothing is written.
    """
    if not demo.enabled:
        raise RuntimeError(demo_disabled_message(None))
    cohort = demo.sources[source]
    planned = tree.plan_source(source, cohort.n_patients, cohort.cohort_args(), seed=demo.seed,
                               n_broken=demo.n_broken, workers=demo.workers, scale=demo.render_scale)
    return planned, planned.plan
