"""A user's own dataset (the ``folder`` format) added by configuration alone, run from its files to the study table."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.docs import doc_commands

pytestmark = pytest.mark.slow

SIX = ("vindr", "nih", "chexpert", "mimic", "uka", "padchest")


def write_folder_dataset(root: Path, n_patients: int = 24) -> None:
    """PNGs whose brightness carries the label, and the CSV the ``folder`` reader reads (path, patient, labels)."""
    rng = np.random.default_rng(0)
    rows = []
    for p in range(n_patients):
        for k in range(2):
            finding = int(rng.random() < 0.5)
            image = rng.integers(0, 100, (96, 80), dtype=np.uint8) + np.uint8(100 * finding)
            path = f"images/p{p:02d}_{k}.png"
            (root / "images").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / path), image)
            rows.append({"path": path, "patient_id": f"p{p:02d}", "view": "PA", "opacity": finding,
                         "effusion": "" if k else finding})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)


def test_a_folder_dataset_needs_configuration_only(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    write_folder_dataset(project / "mydata")
    local = project / "conf" / "local"
    files = {
        "globals.yml": {"raw_roots": {"hospital": str(project / "mydata")}},
        "parameters_sources.yml": {"sources": {"hospital": {"format": "folder"},
                                               **{s: {"enabled": False} for s in SIX}}},
        "labels.yml": {"labels": {
            "sources": {"hospital": {"kind": "binary", "findings": {"lung_opacity": ["opacity"],
                                                                    "pleural_effusion": ["effusion"]}}},
            "policies": {"hospital": {"views": None, "views_native": None, "blank": "ignore"}},
            "splits": {"hospital": {"use_official": False, "test_fraction": 0.3, "val_fraction": 0.2}},
            "label_sets": {"study": {"hospital": ["lung_opacity", "pleural_effusion"]}},
        }},
        "parameters_ingestion.yml": {"ingestion": {"sizes": [64], "workers": 1}},
        "parameters_finetuning.yml": {"finetuning": {
            "inits": ["random"], "img_size": 64, "device": "cpu",
            "registry": {"random": {"arch": "vit_tiny_patch16_224", "model_kwargs": {"patch_size": 8, "depth": 2}}},
            "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3}}},
        "parameters_evaluation.yml": {"evaluation": {"n_resamples": 50}},
    }
    for name, content in files.items():
        (local / name).write_text(yaml.safe_dump(content))
    for _, command in doc_commands("docs/extending.md", "tests/test_own_dataset.py"):  # the local environment
        done = subprocess.run(shlex.split(command), cwd=project, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}:\n{done.stderr[-3000:]}"
    assert "hospital" in yaml.safe_load((project / "dvc.yaml").read_text())["vars"][0]["sources"]

    manifest = pd.read_parquet(project / "data/02_intermediate/hospital/manifest.parquet")
    assert len(manifest) == 48 and set(manifest["source"]) == {"hospital"}
    labels = pd.read_parquet(project / "data/05_model_input/hospital/labels.parquet")
    assert labels["pleural_effusion"].isna().sum() == 24  # blank cells are masked, never negative
    table = pd.read_csv(project / "data/08_reporting/evaluation/study_table.csv")
    assert set(zip(table["source"], table["init"])) == {("hospital", "random")}
    assert not (project / "data/06_models/mimic_init").exists()  # not a MIMIC target, and no mimic arm
