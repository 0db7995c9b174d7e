"""Tiny made-up predictions tables for the evaluation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def predictions(n_test: int = 80, n_val: int = 40, findings: tuple[str, ...] = ("cardiomegaly", "effusion"),
                inits: tuple[str, ...] = ("dinov2", "imagenet21k"), seed: int = 0, decimals: int = 1,
                nan_share: float = 0.15, prevalence: float = 0.3) -> dict[str, pd.DataFrame]:
    """init -> predictions table; scores rounded to ``decimals`` so ties are common; rows shuffled per init."""
    rng = np.random.default_rng(seed)
    n = n_test + n_val
    patients = rng.integers(0, max(1, n // 3), n)
    labels = {}
    for f in findings:
        y = (rng.random(n) < prevalence).astype(float)
        y[rng.random(n) < nan_share] = np.nan
        labels[f] = y
    out = {}
    for k, init in enumerate(inits):
        table = {"image_id": [f"im{j:04d}" for j in range(n)], "split": ["val"] * n_val + ["test"] * n_test,
                 "patient_id": [f"p{p}" for p in patients]}
        for f in findings:
            signal = np.nan_to_num(labels[f]) * (0.8 + 0.6 * k)
            table[f"prob_{f}"] = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + signal - 0.5))), decimals)
            table[f"label_{f}"] = labels[f]
        out[init] = pd.DataFrame(table).sample(frac=1.0, random_state=k).reset_index(drop=True)
    return out


@pytest.fixture
def make_predictions():
    return predictions
