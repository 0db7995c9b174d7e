"""Hand-made manifests in the manifest contract (cxrinit.sources), for the labels tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

N = np.nan


def manifest(source: str, rows: Sequence[dict], *, label_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A manifest: the base columns filled in from each row dict (image_id required), then the rest."""
    base = []
    for i, row in enumerate(rows):
        image_id = row["image_id"]
        base.append({
            "source": source, "image_id": image_id, "path": f"{image_id}.png",
            "patient_id": row.get("patient_id", f"p{i}"), "study_id": row.get("study_id", f"s{i}"),
            "view": row.get("view", "PA"), "view_native": row.get("view_native", pd.NA), "sex": "F", "age": 50.0,
            "official_split": row.get("official_split", pd.NA),
        })
    df = pd.DataFrame(base).astype({c: "str" for c in ("source", "image_id", "path", "patient_id", "study_id",
                                                         "view", "view_native", "sex", "official_split")})
    extra = sorted({k for row in rows for k in row} - set(df.columns) - {"image_id"})
    for column in extra:
        df[column] = [row.get(column, np.nan) for row in rows]
    return df


def labels_matrix(result_labels: pd.DataFrame) -> dict[str, list[float]]:
    """image_id -> label row (for comparison with hand-written expectations)."""
    values = result_labels.drop(columns="image_id").to_numpy(dtype=float)
    return {i: list(v) for i, v in zip(result_labels["image_id"], values)}


def assert_matrix(result_labels: pd.DataFrame, findings: Sequence[str], expected: dict[str, list[float]]) -> None:
    """The result has exactly ``expected``'s images (in order) and values (NaN == NaN)."""
    assert list(result_labels.columns) == ["image_id", *findings]
    got = labels_matrix(result_labels)
    assert list(got) == list(expected), f"kept images {list(got)} != {list(expected)}"
    for image_id, row in expected.items():
        np.testing.assert_array_equal(np.asarray(got[image_id]), np.asarray(row, dtype=float),
                                      err_msg=f"image {image_id}")
