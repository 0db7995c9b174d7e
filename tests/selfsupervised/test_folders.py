"""Folders of unlabeled images: their own pixel store (BLAKE3 source hashes, store version 3; a version-2
store is re-hashed, not decoded again) and the leakage check against every source's held-out images."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from blake3 import blake3
from kedro.io import DatasetError

from cxrinit.config import IngestionSettings
from cxrinit.datasets import StoreSet
from cxrinit.imaging.store import FINGERPRINT, INDEX, STORE_VERSION, PixelStore, build_store
from cxrinit.labels import LeakageError
from cxrinit.pipelines.selfsupervised.nodes import check_folder_leakage, folder_rows, held_out_images
from cxrinit.selfsupervised import store_rows
from cxrinit.selfsupervised.cell import _part_identity
from tests.storeversions import as_store_version_2, decoded  # noqa: F401 (a fixture)

INGESTION = IngestionSettings(workers=1)


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", rng.integers(0, 255, (96, 80), dtype=np.uint8))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _source(tmp_path: Path) -> tuple[StoreSet, pd.DataFrame, Path]:
    """An ingested source of four images (a, b: train; c: val; d: test) and its splits."""
    raw = tmp_path / "raw"
    items = pd.DataFrame({"image_id": list("abcd"), "path": [f"{i}.png" for i in "abcd"]})
    for seed, name in enumerate(items["path"]):
        _png(raw / name, seed)
    out = tmp_path / "vindr" / "pixels"
    build_store(items, raw, out, sizes=(32,), workers=1)
    splits = pd.DataFrame({"image_id": list("abcd"), "patient_id": list("ppqr"),
                           "split": ["train", "train", "val", "test"]})
    return StoreSet(out), splits, raw


def test_a_folder_image_with_the_bytes_of_a_test_image_is_refused(tmp_path: Path) -> None:
    images, splits, raw = _source(tmp_path)
    folder = tmp_path / "archive"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(raw / "d.png", folder / "sub" / "copy.png")  # a test image of vindr
    shutil.copy(raw / "a.png", folder / "train_copy.png")  # a training image: allowed
    _png(folder / "new.png", 99)
    part, index, dropped = folder_rows(folder, tmp_path / "folders" / "archive", INGESTION, 32)
    assert len(part) == 3 and not dropped
    by_file = index.set_index("file")["source_blake3"]
    assert by_file["sub/copy.png"] == blake3((raw / "d.png").read_bytes()).hexdigest()
    held = held_out_images(images, splits)
    assert sorted(held["held_out_id"]) == ["c", "d"] and set(held.columns) == {"held_out_id", "split", "source_blake3"}
    with pytest.raises(LeakageError, match=r"1 image\(s\) of archive are vindr validation/test images .*"
                                           r"sub/copy.png = vindr test image d"):
        check_folder_leakage("archive", index, {"vindr": held})
    (folder / "sub" / "copy.png").unlink()
    _, index, _ = folder_rows(folder, tmp_path / "folders" / "archive", INGESTION, 32)  # the store follows the folder
    check_folder_leakage("archive", index, {"vindr": held})


def test_a_folder_store_of_version_2_is_re_hashed_with_blake3_and_nothing_is_decoded_again(tmp_path: Path,
                                                                                          decoded: list[str]) -> None:
    folder, out = tmp_path / "archive", tmp_path / "folders" / "archive"
    for i in range(3):
        _png(folder / f"{i}.png", i)
    folder_rows(folder, out, INGESTION, 32)
    before = np.load(out / "32" / "images.npy").copy()
    as_store_version_2(out, folder)
    assert "source_hash" in pd.read_parquet(out / "32" / INDEX).columns
    identity = _part_identity(store_rows("folder:archive", PixelStore(out / "32"))[0])  # pretrained on version 2
    decoded.clear()
    part, index, _ = folder_rows(folder, out, INGESTION, 32)
    assert decoded == [] and len(part) == 3
    assert _part_identity(part) == identity  # same pixels: a finished or interrupted pretraining is kept
    assert json.loads((out / FINGERPRINT).read_text())["version"] == STORE_VERSION
    assert list(index["source_blake3"]) == [blake3((folder / f).read_bytes()).hexdigest() for f in index["file"]]
    assert "source_hash" not in pd.read_parquet(out / "32" / INDEX).columns
    np.testing.assert_array_equal(np.load(out / "32" / "images.npy"), before)


def test_a_folder_store_of_another_version_is_decoded_again_saying_why(tmp_path: Path, decoded: list[str],
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    folder, out = tmp_path / "archive", tmp_path / "folders" / "archive"
    for i in range(2):
        _png(folder / f"{i}.png", i)
    folder_rows(folder, out, INGESTION, 32)
    fingerprint = json.loads((out / FINGERPRINT).read_text())
    (out / FINGERPRINT).write_text(json.dumps({**fingerprint, "version": 1}))
    decoded.clear()
    with caplog.at_level(logging.INFO, logger="cxrinit.pipelines.selfsupervised.nodes"):
        _, index, _ = folder_rows(folder, out, INGESTION, 32)
    assert sorted(decoded) == ["0.png", "1.png"] and index["source_blake3"].notna().all()
    assert f"written by store version 1 (this cxrinit writes version {STORE_VERSION})" in caplog.text


def test_a_source_store_of_version_2_is_refused_by_the_leakage_check_naming_the_ingestion_run(tmp_path: Path) -> None:
    """SHA-256 and BLAKE3 never match: comparing them would let every held-out copy through."""
    images, splits, raw = _source(tmp_path)
    as_store_version_2(images.path, raw)
    with pytest.raises(DatasetError, match=r"pixels was written by store version 2, which recorded SHA-256.*"
                                           r"source_hash.*BLAKE3.*kedro run --pipelines ingestion --namespaces vindr"):
        held_out_images(StoreSet(images.path), splits)
