"""Nodes of the ``demo`` pipeline."""

from __future__ import annotations

import pandas as pd

from cxrinit.demo import tree


def plan_demo_source(demo: dict, source: str) -> tuple[tree.DemoTree, pd.DataFrame]:
    """Plan the synthetic ``source``: returns the tree to write (saved by ``<source>.raw``) and its answer key.

    With ``demo.enabled: false`` (every environment but ``demo``) nothing is planned and the real data
    root is left alone.
    """
    if not demo.get("enabled", False):
        empty = tree.disabled(source)
        return empty, empty.plan
    settings = demo["sources"][source]
    planned = tree.plan_source(source, settings, seed=int(demo["seed"]), n_broken=int(demo.get("n_broken", 4)),
                               workers=int(demo.get("workers", 1)))
    return planned, planned.plan
