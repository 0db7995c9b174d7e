"""Older pixel stores made from current ones, and a spy on what a store build decodes (store tests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from cxrinit.imaging.store import FINGERPRINT, INDEX, JOURNAL


def as_store_version_2(out: Path, root: Path) -> None:
    """Make the store at ``out`` what store version 2 wrote for the same files: SHA-256 source hashes in
    the journal and in the index column ``source_hash``, ``"version": 2`` in the fingerprint."""
    fingerprint = json.loads((out / FINGERPRINT).read_text())
    (out / FINGERPRINT).write_text(json.dumps({**fingerprint, "version": 2}, indent=1, sort_keys=True) + "\n")
    records = [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]
    paths = {rec[0]: rec[9] for rec in records}
    for rec in records:
        if rec[8] is not None:
            rec[8] = hashlib.sha256((root / rec[9]).read_bytes()).hexdigest()
    (out / JOURNAL).write_text("".join(json.dumps(rec, separators=(",", ":")) + "\n" for rec in records))
    for index_path in out.glob(f"*/{INDEX}"):
        index = pd.read_parquet(index_path)
        sha = [None if pd.isna(h) else hashlib.sha256((root / paths[r]).read_bytes()).hexdigest()
               for h, r in zip(index["source_blake3"], index["row"])]
        index.insert(len(index.columns) - 1, "source_hash", pd.array(sha, dtype="string"))
        index.drop(columns="source_blake3").to_parquet(index_path, index=False)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths build_store hands to the decoders, in this test."""
    import cxrinit.imaging.store as store_module

    seen: list[str] = []
    real = store_module.process_many

    def spy(tasks, *args, **kwargs):
        seen.extend(path for _, path in tasks)
        return real(tasks, *args, **kwargs)

    monkeypatch.setattr(store_module, "process_many", spy)
    return seen
