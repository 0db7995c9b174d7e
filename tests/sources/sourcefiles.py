"""Helpers that write tiny metadata fixtures byte-exact, as the real downloads have them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd


def write(path: Path, text: str) -> Path:
    """Write ``text`` exactly (no newline translation); gzip when the name ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def core(manifest: pd.DataFrame, *extra: str) -> list[dict]:
    """The manifest's standard columns (plus ``extra``) as plain records, NA -> None."""
    cols = ["source", "image_id", "path", "patient_id", "study_id", "view", "view_native", "sex", "age",
            "official_split", *extra]
    frame = manifest[cols].astype(object)
    return [{k: (None if pd.isna(v) else v) for k, v in rec.items()} for rec in frame.to_dict("records")]
