"""The real readers' manifests go through harmonization and splits for all six datasets.

The metadata comes from benchmarks/scale.py's synthesizers (native formats and file names) at a
tiny scale; this is what proves labels.yml names the readers' columns and terms correctly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from cxrinit.labels import Ontology, check_patient_disjoint, harmonize_labels, make_splits
from cxrinit.sources import chexpert, mimic, read_source, uka, vindr

SCALE_PY = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("cxrinit_bench_scale", SCALE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base = tmp_path_factory.mktemp("scale")
    module.synthesize(base, 0.004, seed=1)
    return base


def test_ontology_natives_are_reader_columns(ontology: Ontology) -> None:
    declared = {"chexpert": set(chexpert.LABELS), "mimic": set(mimic.LABELS), "vindr": set(vindr.LABELS),
                "uka": set(uka.GRADED) | {"healthy"}}
    for source, columns in declared.items():
        natives = ontology.source(source).natives
        assert natives <= columns, f"{source}: {sorted(natives - columns)} are not columns of its reader"


@pytest.mark.parametrize("source", ["vindr", "nih", "chexpert", "mimic", "uka", "padchest"])
def test_reader_to_labels_and_splits(ontology: Ontology, roots: Path, source: str) -> None:
    manifest = read_source(source, roots / source).manifest
    for preset in ("default", "paper"):
        for label_set in ("study", "common", f"mimic_shared/{'chexpert' if source == 'mimic' else source}"):
            result = harmonize_labels(manifest, ontology, source, preset=preset, label_set=label_set)
            assert result.counts["images_in"] == len(manifest)
            assert result.counts["images_out"] + len(result.dropped) == len(manifest)
            values = result.labels.drop(columns="image_id").to_numpy()
            assert np.isin(values[~np.isnan(values)], [0.0, 1.0]).all()
            annotated = [f for f in result.findings if f not in result.unannotated]
            assert (~np.isnan(result.labels[annotated].to_numpy())).any(axis=0).all(), "a fed finding is all-masked"
        splits = make_splits(manifest, seed=0, source=source, **ontology.split_policy(source, preset))
        check_patient_disjoint(splits)
        assert set(splits["split"]) <= {"train", "val", "test"} and len(splits) == len(manifest)
