"""A finished training cell is known by what its store's pixels are, not by how the store records its sources."""

from __future__ import annotations

import json
from pathlib import Path

from trainingdata import TINY_INIT, make_dataset

from cxrinit.training.cell import CellConfig, cell_identity


def test_upgrading_the_store_version_keeps_finished_cells_and_a_new_recipe_does_not(tmp_path: Path) -> None:
    store = tmp_path / "pixels" / "32"
    make_dataset(store, n=16, size=32)
    cell = CellConfig(init=TINY_INIT, store=store, labels=store / "labels.parquet", splits=store / "splits.parquet",
                      img_size=32, out_dir=tmp_path / "cell", device="cpu")
    fingerprint = {"version": 2, "n_items": 16, "items_hash": "ab" * 16, "sizes": [32], "recipe": {"fit": "stretch"}}

    def identity(**changes: object) -> str:
        (store.parent / "fingerprint.json").write_text(json.dumps({**fingerprint, **changes}))
        return cell_identity(cell, stage="finetuning")

    before = identity()  # a cell trained on a store of version 2 (SHA-256 source hashes) ...
    assert identity(version=3) == before  # ... is still finished once the store is re-hashed (BLAKE3)
    assert identity(version=3, recipe={"fit": "letterbox"}) != before  # other pixels: trained again
    assert identity(version=1) != before  # version 1 fingerprinted other items (paths, not ids)
