"""Training tests run single-threaded: on a shared 2-core machine that is both faster and steadier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from trainingdata import make_dataset


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def dataset(tmp_path: Path):
    return make_dataset(tmp_path / "store", n=96, size=32)
