"""Project pipelines, built for the study layout of the running environment; ``__default__`` runs them in data order.

The layout (sources, cells, pretraining targets, the demo) comes from the validated configuration
(:mod:`cxrinit.pipelines.layout`). ``__default__`` holds the demo only where the demo is enabled.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from kedro.pipeline import Pipeline

from cxrinit.pipelines import demo, evaluation, finetuning, harmonization, ingestion, pretraining, selfsupervised
from cxrinit.pipelines.layout import StudyLayout, active_layout, load_layout

# The selfsupervised stage reads every source's images and feeds every source's ssl cell, so Kedro finds each
# source namespace "interrupted" by it, once per run and source (docs/selfsupervised.md, known limits).
warnings.filterwarnings("ignore", message=r"Namespace '[^']+' is interrupted by nodes \['ssl_init\.selfsupervise'\]")

#: Pipelines in data order.
STAGES = {"demo": demo, "ingestion": ingestion, "harmonization": harmonization, "pretraining": pretraining,
          "selfsupervised": selfsupervised, "finetuning": finetuning, "evaluation": evaluation}


def current_layout() -> StudyLayout:
    """The running context's layout; without a context (``kedro registry list``), the one of ``KEDRO_ENV``."""
    layout = active_layout()
    if layout is not None:
        return layout
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd())
    if project is None:
        raise RuntimeError("no Kedro project here: run this from inside the cxrinit project folder")
    return load_layout(project, os.environ.get("KEDRO_ENV"))


def register_pipelines() -> dict[str, Pipeline]:
    layout = current_layout()
    pipelines = {name: module.create_pipeline(layout) for name, module in STAGES.items()}
    study = [p for name, p in pipelines.items() if name != "demo" or layout.demo_enabled]
    pipelines["__default__"] = sum(study, Pipeline([]))
    return pipelines
