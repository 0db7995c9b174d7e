"""Fixtures of the labels tests: the repository's labels.yml and hand-made manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrinit.labels import Ontology, load_ontology

LABELS_YML = Path(__file__).resolve().parents[2] / "conf" / "base" / "labels.yml"


@pytest.fixture(scope="session")
def ontology() -> Ontology:
    return load_ontology(LABELS_YML)
