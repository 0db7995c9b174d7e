"""Pipeline wiring, in memory: the study layout decides every namespace and dataset; parameters are shared and typed.

As in Kedro's spaceflights starter, the pipelines are built and run on an in-memory catalog here; the
end-to-end runs on the demo are in the other modules of this folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro.validation.type_extractor import TypeExtractor

from cxrinit.config import ProjectSettings, validate_parameters
from cxrinit.pipelines.layout import StudyLayout, activate
from cxrinit.pipelines import evaluation, finetuning, harmonization, ingestion, pretraining
from cxrinit.pipeline_registry import register_pipelines
from cxrinit.provenance import Provenance
from cxrinit.tracking import TrackingConfig
from tests.config.test_settings import parameters

SIX = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")
TARGETS = ("vindr", "nih", "chexpert", "uka", "padchest")


#: labels.yml entries of a user's own dataset ``hospital`` (a folder of images with a CSV of 1/0/blank).
HOSPITAL_LABELS = {
    "sources": {"hospital": {"kind": "binary", "findings": {"cardiomegaly": ["cardiomegaly"]}}},
    "policies": {"hospital": {"views": None, "views_native": None, "blank": "ignore"}},
    "splits": {"hospital": {"use_official": False, "test_fraction": 0.2, "val_fraction": 0.1}},
    "label_sets": {"study": {"hospital": ["cardiomegaly"]}},
}


def layout_of(env: str = "base", **changes: dict) -> tuple[StudyLayout, ProjectSettings]:
    raw = parameters(env)
    if "hospital" in changes.get("sources", {}):
        for key, entries in HOSPITAL_LABELS.items():
            for name, value in entries.items():
                target = raw["labels"][key][name] if key == "label_sets" else raw["labels"][key]
                target.update(value) if key == "label_sets" else target.__setitem__(name, value)
    for block, values in changes.items():
        raw[block] = {**raw.get(block, {}), **values}
    settings, _ = validate_parameters(raw)
    return StudyLayout.from_settings(settings, env), settings


def namespaces(pipeline) -> set[str]:
    return {n.namespace for n in pipeline.nodes}


def test_the_layout_comes_from_the_configuration() -> None:
    layout, _ = layout_of()
    assert layout.sources == SIX and layout.mimic_targets == TARGETS and not layout.demo_enabled
    assert layout.pretraining_cells() == list(TARGETS)
    assert ("mimic", "mimic") not in layout.cells() and ("vindr", "mimic") in layout.cells()
    shared, _ = layout_of(pretraining={"mode": "shared"})
    assert shared.pretraining_cells() == ["shared"] and shared.mimic_init_card("uka") == "mimic_init.shared.card"
    no_mimic, _ = layout_of(finetuning={"inits": ["dinov2", "random"]})
    assert no_mimic.mimic_targets == () and no_mimic.pretraining_cells() == []
    demo, _ = layout_of("demo")
    assert demo.demo_sources == SIX and demo.inits == ("dinov2", "imagenet21k", "dinov3", "rad_dino", "cxformer",
                                                       "mimic", "ssl", "random", "random_b")
    assert demo.ssl and demo.ssl_sources == SIX and demo.ssl_probe == "vindr"
    folders_only, _ = layout_of(finetuning={"inits": ["ssl", "random"]}, selfsupervised={"sources": [], "folders": [str(Path(__file__).parent)]})
    assert folders_only.ssl and folders_only.ssl_sources == ()
    assert not no_mimic.ssl and not no_mimic.ssl_sources


def test_every_stage_follows_the_sources_and_cells() -> None:
    layout, _ = layout_of(sources={"hospital": {"format": "folder"}, "uka": {"enabled": False}},
                          finetuning={"inits": ["random", "mimic"]})
    sources = ("vindr", "nih", "chexpert", "mimic", "padchest", "hospital")
    assert namespaces(ingestion.create_pipeline(layout)) == set(sources)
    assert namespaces(harmonization.create_pipeline(layout)) == {*sources, None}  # + the summaries
    assert namespaces(evaluation.create_pipeline(layout)) == {*sources, None}
    cells = namespaces(finetuning.create_pipeline(layout))
    assert cells == {f"{s}.random" for s in sources} | {f"{s}.mimic" for s in ("vindr", "nih", "chexpert", "padchest")}
    assert namespaces(pretraining.create_pipeline(layout)) == {f"mimic_init.{t}" for t in ("vindr", "nih", "chexpert",
                                                                                          "padchest")}
    read = next(n for n in ingestion.create_pipeline(layout).nodes if n.namespace == "hospital"
                and n.name.endswith("read_metadata"))
    assert set(read.inputs) == {"hospital.raw", "params:sources.hospital", "params:ingestion"}


def test_shared_pretraining_is_one_cell_read_by_every_target() -> None:
    layout, _ = layout_of(pretraining={"mode": "shared"})
    (node,) = pretraining.create_pipeline(layout).nodes
    assert node.namespace == "mimic_init.shared" and node.outputs == ["mimic_init.shared.card"]
    mimic_cells = [n for n in finetuning.create_pipeline(layout).nodes if n.namespace.endswith(".mimic")]
    assert len(mimic_cells) == len(TARGETS)
    assert all("mimic_init.shared.card" in n.inputs for n in mimic_cells)


def test_parameters_are_shared_blocks_and_typed_at_every_node(caplog: pytest.LogCaptureFixture) -> None:
    layout, settings = layout_of("demo")
    activate(layout)
    pipelines = register_pipelines()
    blocks = set(ProjectSettings.model_fields) | {"labels"}
    with caplog.at_level(logging.WARNING, logger="kedro.validation"):
        typed = TypeExtractor(pipelines).extract_types_from_pipelines()
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # every run would print them
    for node in pipelines["__default__"].nodes:
        for name in (i for i in node.inputs if i.startswith("params:")):
            assert name.split(":", 1)[1].split(".")[0] in blocks, (node.name, name)  # never namespaced
            assert name.split(":", 1)[1] in typed, (node.name, name)                  # a settings model
    assert {"ingestion", "harmonization", "pretraining", "finetuning", "evaluation", "demo", "labels",
            "sources.vindr"} <= set(typed)
    assert pipelines["demo"].nodes and set(pipelines["demo"].nodes) <= set(pipelines["__default__"].nodes)
    activate(layout_of()[0])
    assert not set(register_pipelines()["__default__"].nodes) & set(register_pipelines()["demo"].nodes)


def _predictions(source_seed: int, init_seed: int, signal: float, n: int = 60) -> pd.DataFrame:
    """Val + test predictions of one init on one source: labels fixed by the source, scores by the init."""
    y = np.random.default_rng(source_seed).random((n, 2)) < 0.4
    p = np.clip(0.5 + signal * (y - 0.5) + np.random.default_rng(init_seed).normal(0, 0.2, (n, 2)), 0, 1)
    ids = [f"i{k}" for k in range(n)]
    return pd.DataFrame({"image_id": ids, "split": np.where(np.arange(n) % 3 == 0, "val", "test"), "patient_id": ids,
                         "prob_a": p[:, 0], "label_a": y[:, 0].astype(float),
                         "prob_b": p[:, 1], "label_b": y[:, 1].astype(float)})


def test_evaluation_runs_in_memory_for_any_source_names() -> None:
    """The evaluation pipeline, wired for two sources (one of them a user's), run on a memory catalog."""
    layout, settings = layout_of(sources={"hospital": {"format": "folder"}}, finetuning={"inits": ["dinov2", "random"]})
    layout = StudyLayout(("vindr", "hospital"), layout.inits, ())
    catalog = DataCatalog({
        "params:evaluation": MemoryDataset(settings.evaluation.model_copy(update={"n_resamples": 40})),
        "tracking": MemoryDataset(TrackingConfig(False, "sqlite:///unused.db", None, "x"), copy_mode="assign"),
        "provenance": MemoryDataset(Provenance(environment="test")),
        **{f"{s}.{i}.predictions": MemoryDataset(_predictions(k, 10 + j, 0.6 if i == "dinov2" else 0.2))
           for k, s in enumerate(layout.sources) for j, i in enumerate(layout.inits)},
        **{f"{s}.{i}.card": MemoryDataset({"skipped": False}) for s in layout.sources for i in layout.inits},
    })
    SequentialRunner().run(evaluation.create_pipeline(layout), catalog)
    table = catalog.load("study_table")
    assert set(zip(table["source"], table["init"])) == {(s, i) for s in layout.sources for i in layout.inits}
    assert "p_vs_random" in table.columns and (table["environment"] == "test").all()
    assert "95% percentile interval" in catalog.load("study_report")


def test_environments_never_share_outputs(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo environment reads and writes only under data/demo/: a real run's outputs never mix with it."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    monkeypatch.chdir(project)
    bootstrap_project(project)
    for env, root in (("demo", project / "data" / "demo"), ("base", project / "data")):
        with KedroSession.create(project_path=project, env=env) as session:
            context = session.load_context()
            catalog = context.catalog
            names = {d for d in pipelines["__default__"].datasets()
                     if not d.startswith("params:") and d not in ("tracking", "provenance")}
            for name in names:
                dataset = catalog.get(name)
                where = getattr(dataset, "_filepath", None) or getattr(dataset, "_path", None) or getattr(
                    getattr(dataset, "_inner", None), "_filepath", None) or getattr(dataset, "path", None)
                if env == "base" and name.endswith(".raw"):
                    continue  # a real download lives where you keep it (raw_roots), read-only
                assert where is not None, name
                assert Path(str(where)).resolve().is_relative_to(root.resolve()), (env, name, where)
                if env == "base":
                    assert not Path(str(where)).resolve().is_relative_to((project / "data" / "demo").resolve())
            assert Path(context.settings.finetuning.models_dir) == root.relative_to(project) / "06_models"


def test_kedro_viz_shows_the_layer_view_of_the_whole_study(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through kedro-viz's API: layers are sorted only when no namespace spans them in a cycle (the demo's
    writers once shared the sources' namespaces with fine-tuning, and the layer view was disabled)."""
    from kedro_viz.api.rest.responses.pipelines import get_pipeline_response
    from kedro_viz.data_access import data_access_manager
    from kedro_viz.integrations.kedro.data_loader import load_data
    from kedro_viz.server import populate_data

    monkeypatch.chdir(project)
    # The ssl arm is left out: its stage pools every source's training images and feeds every source's cell, so
    # each source namespace is both upstream and downstream of it and kedro-viz turns the layer view off
    # (docs/selfsupervised.md says so).
    arms = {"finetuning": {"inits": ["dinov2", "imagenet21k", "mimic", "random"]}}
    catalog, pipelines, extras = load_data(project, env="demo", extra_params=arms)
    populate_data(data_access_manager, catalog, pipelines, extras)
    assert get_pipeline_response("__default__").layers == [
        "raw", "intermediate", "primary", "model_input", "models", "model_output", "reporting"]
