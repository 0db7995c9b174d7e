"""The pixel store: quarantines in the index, reading, resuming after SIGKILL byte for byte."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from blake3 import blake3
from imagingfiles import chest_like, dicom_bytes, dicom_dataset, jpeg_bytes, png_bytes, pydicom_file, write
from poolworkers import crash_on_boom, died, noop_init

from cxrinit.imaging import PixelStore, Status, StoreMismatchError, build_store
from cxrinit.imaging.pool import run_pool
from cxrinit.imaging.store import FINGERPRINT, IMAGES, INDEX, JOURNAL
from tests.storeversions import as_store_version_2, decoded  # noqa: F401 (a fixture)

SRC = Path(__file__).resolve().parents[2] / "src"


def _u8(seed: int, h: int = 120, w: int = 100) -> np.ndarray:
    return (chest_like(h, w, seed) * 255).astype(np.uint8)


def _corrupt_idat(png: bytes) -> bytes:
    """Same chunk layout and length, garbage compressed data: decodes to nothing sensible."""
    at = png.index(b"IDAT") + 4
    return png[:at] + bytes(255 - b for b in png[at : at + 200]) + png[at + 200 :]


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, pd.DataFrame, dict[str, Status]]:
    """A root with good files and one file (or item) per quarantine reason."""
    root = tmp_path / "root"
    good_png = png_bytes(_u8(1))
    good_dcm = dicom_bytes(dicom_dataset((chest_like(110, 90, 2) * 4000).astype(np.uint16), bits_stored=12))
    video = pydicom.dcmread(io.BytesIO(pydicom_file("emri_small_jpeg_2k_lossless.dcm").read_bytes()))
    video.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML
    buf = io.BytesIO()
    video.save_as(buf)
    files = {
        "good/a.png": good_png,
        "good/b16.png": png_bytes((chest_like(130, 110, 3) * 60000).astype(np.uint16)),
        "good/c.jpg": jpeg_bytes(_u8(4, 300, 260)),
        "good/d.dcm": good_dcm,
        "good/e.dcm": dicom_bytes(dicom_dataset((chest_like(100, 100, 5) * 4000).astype(np.uint16),
                                                photometric="MONOCHROME1", bits_stored=12)),
        "bad/cut.png": good_png[: len(good_png) // 2],
        "bad/cut.jpg": jpeg_bytes(_u8(6))[:-300],
        "bad/cut.dcm": good_dcm[: len(good_dcm) - 4000],
        "bad/empty.png": b"",
        "bad/text.png": b"Patient list, not an image\n" * 10,
        "bad/nopixels.dcm": dicom_bytes(dicom_dataset(None)),
        "bad/video.dcm": buf.getvalue(),
        "bad/tiny.png": png_bytes(np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)),
        "bad/garbled.png": _corrupt_idat(good_png),
        "bad/flat.png": png_bytes(np.full((90, 90), 128, np.uint8)),
    }
    for rel, data in files.items():
        write(root / rel, data)
    write(tmp_path / "outside.png", good_png)
    (root / "bad" / "link.png").symlink_to(tmp_path / "outside.png")
    expected = {
        "a": Status.OK, "b16": Status.OK, "c": Status.OK, "d": Status.OK, "e": Status.OK,
        "cut_png": Status.TRUNCATED, "cut_jpg": Status.TRUNCATED, "cut_dcm": Status.TRUNCATED,
        "empty": Status.ZERO_BYTES, "text": Status.WRONG_FORMAT, "nopixels": Status.NO_PIXEL_DATA,
        "video": Status.UNSUPPORTED_SYNTAX, "tiny": Status.IMPLAUSIBLE_SIZE, "garbled": Status.DECODE_ERROR,
        "flat": Status.BLANK, "dotdot": Status.PATH_ESCAPE, "link": Status.PATH_ESCAPE, "gone": Status.MISSING,
    }
    paths = {
        "a": "good/a.png", "b16": "good/b16.png", "c": "good/c.jpg", "d": "good/d.dcm", "e": "good/e.dcm",
        "cut_png": "bad/cut.png", "cut_jpg": "bad/cut.jpg", "cut_dcm": "bad/cut.dcm", "empty": "bad/empty.png",
        "text": "bad/text.png", "nopixels": "bad/nopixels.dcm", "video": "bad/video.dcm", "tiny": "bad/tiny.png",
        "garbled": "bad/garbled.png", "flat": "bad/flat.png", "dotdot": "good/../../outside.png",
        "link": "bad/link.png", "gone": "bad/gone.png",
    }
    ids = list(paths)
    items = pd.DataFrame({"image_id": ids + ["a"], "path": [paths[i] for i in ids] + ["good/c.jpg"]})
    return root, items, expected


def test_every_quarantine_reason_lands_in_the_index_and_the_batch_goes_on(batch, tmp_path):
    root, items, expected = batch
    index = build_store(items, root, tmp_path / "store", sizes=(64, 32), workers=2)
    assert list(index.columns) == ["image_id", "row", "status", "detail", "orig_height", "orig_width",
                                   "photometric", "bits", "format", "source_blake3"]
    assert index["row"].tolist() == list(range(len(items)))
    got = dict(zip(index["image_id"].iloc[:-1], index["status"].iloc[:-1]))
    assert got == {k: v.value for k, v in expected.items()}
    assert index["status"].iloc[-1] == Status.DUPLICATE_ID
    assert "row 0" in index["detail"].iloc[-1]
    by_id = index.iloc[:-1].set_index("image_id")
    assert "truncated" in by_id.loc["cut_jpg", "detail"] and by_id.loc["tiny", "orig_width"] == 30
    assert by_id.loc["d", "photometric"] == "MONOCHROME2" and by_id.loc["e", "photometric"] == "MONOCHROME1"
    assert by_id.loc["b16", "bits"] == 16 and by_id.loc["d", "bits"] == 12
    assert by_id.loc["c", "format"] == "jpeg" and by_id.loc["c", "orig_height"] == 300
    assert by_id.loc["a", "source_blake3"] == blake3((root / "good/a.png").read_bytes()).hexdigest()
    assert by_id.loc["garbled", "source_blake3"] == blake3((root / "bad/garbled.png").read_bytes()).hexdigest()
    assert pd.isna(by_id.loc["gone", "source_blake3"]) and pd.isna(by_id.loc["link", "source_blake3"])  # never opened
    for size in (32, 64):
        store = PixelStore(tmp_path / "store" / str(size))
        assert store.images.shape == (len(items), size, size) and store.size == size
        pd.testing.assert_frame_equal(store.index, index)
        ok = store.ok
        assert ok.sum() == 5
        assert all(store.images[r].max() == 255 for r in np.flatnonzero(ok))  # stored, equalized
        assert not store.images[~ok].any()  # quarantined rows stay zero


def test_pixel_store_reads_rows_by_id_in_any_order(batch, tmp_path):
    root, items, _ = batch
    build_store(items, root, tmp_path / "store", sizes=(48,), workers=1)
    store = PixelStore(tmp_path / "store" / "48")
    assert len(store) == len(items)
    assert not store.images.flags.writeable
    rows = store.row_of(["e", "a", "c"])
    assert rows.tolist() == [4, 0, 2]  # "a" is the first occurrence, not the duplicate at the end
    got = store.gather(rows)
    assert got.dtype == np.uint8 and got.shape == (3, 48, 48)
    for k, r in enumerate(rows):
        np.testing.assert_array_equal(got[k], store.images[r])
    assert store.row_of("d").tolist() == [3]
    with pytest.raises(KeyError, match="nobody"):
        store.row_of(["a", "nobody"])
    with pytest.raises(IndexError):
        store.gather([len(items)])
    loaded = np.load(tmp_path / "store" / "48" / IMAGES, mmap_mode="r")  # a plain .npy
    np.testing.assert_array_equal(loaded, store.images)
    with pytest.raises(FileNotFoundError, match="incomplete"):
        PixelStore(tmp_path / "store")


def _small_items(root: Path, n: int) -> pd.DataFrame:
    names = []
    for i in range(n):
        name = f"img_{i:03d}.png"
        write(root / name, png_bytes((chest_like(160, 140, seed=i) * 50000).astype(np.uint16)))
        names.append(name)
    return pd.DataFrame({"image_id": [f"id{i}" for i in range(n)], "path": names})


_BUILD = """
import sys, pandas as pd
from cxrinit.imaging import build_store
items = pd.read_parquet(sys.argv[1])
build_store(items, sys.argv[2], sys.argv[3], sizes=(32, 64), workers=2, chunk_size=1, commit_every_s=0)
"""


def test_killed_run_resumes_to_byte_identical_files(tmp_path):
    n = 120
    root = tmp_path / "root"
    items = _small_items(root, n)
    items.to_parquet(tmp_path / "items.parquet")
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUILD, str(tmp_path / "items.parquet"), str(root), str(killed)],
        env=os.environ | {"PYTHONPATH": str(SRC)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    journal = killed / JOURNAL
    deadline = time.monotonic() + 60
    lines = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
            if lines >= 10:
                break
            time.sleep(0.002)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the builder and its workers: a session of our own
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    done_at_kill = journal.read_bytes().count(b"\n")
    assert 10 <= done_at_kill < n, "the run must be cut mid-way"
    assert not (killed / "64" / INDEX).exists()
    with open(journal, "ab") as f:  # and a torn last line, as if killed inside a write
        f.write(b'[%d,"ok","",16' % (n - 1))

    build_store(items, root, killed, sizes=(32, 64), workers=1)
    fresh = tmp_path / "fresh"
    build_store(items, root, fresh, sizes=(64, 32), workers=1)
    for rel in (FINGERPRINT, f"32/{IMAGES}", f"32/{INDEX}", f"64/{IMAGES}", f"64/{INDEX}"):
        assert (killed / rel).read_bytes() == (fresh / rel).read_bytes(), rel
    assert (PixelStore(fresh / "64").index["status"] == "ok").all()


def test_changed_inputs_are_refused_unless_overwrite(tmp_path):
    root = tmp_path / "root"
    items = _small_items(root, 3)
    out = tmp_path / "store"
    build_store(items, root, out, sizes=(32,), workers=1)
    again = build_store(items, root, out, sizes=(32,), workers=1)  # same inputs: nothing to do
    assert (again["status"] == "ok").all()
    for change in ({"sizes": (32, 64)}, {"items": items.iloc[:2]}):
        kwargs = {"items": items, "sizes": (32,)} | change
        with pytest.raises(StoreMismatchError, match="overwrite=True"):
            build_store(kwargs["items"], root, out, sizes=kwargs["sizes"], workers=1)
    from cxrinit.imaging import Recipe

    with pytest.raises(StoreMismatchError, match="recipe"):
        build_store(items, root, out, sizes=(32,), recipe=Recipe(fit="letterbox"), workers=1)
    index = build_store(items.iloc[:2], root, out, sizes=(64,), workers=1, overwrite=True)
    assert len(index) == 2 and not (out / "32").exists()
    assert PixelStore(out / "64").images.shape == (2, 64, 64)
    strangers = tmp_path / "notastore"
    write(strangers / "thesis.tex", b"precious")
    with pytest.raises(StoreMismatchError, match="not empty"):
        build_store(items, root, strangers, workers=1)
    assert (strangers / "thesis.tex").read_bytes() == b"precious"


def test_items_are_validated(tmp_path):
    with pytest.raises(ValueError, match="path"):
        build_store(pd.DataFrame({"image_id": ["a"]}), tmp_path, tmp_path / "s")
    with pytest.raises(ValueError, match=r"row\(s\) \[1\]"):
        build_store(pd.DataFrame({"image_id": ["a", None], "path": ["x.png", "y.png"]}), tmp_path, tmp_path / "s")
    with pytest.raises(ValueError, match="sizes"):
        build_store(pd.DataFrame({"image_id": ["a"], "path": ["x.png"]}), tmp_path, tmp_path / "s", sizes=(0,))


def test_a_worker_crash_quarantines_only_the_culprit():
    chunks = [[(0, "a"), (1, "b")], [(2, "boom"), (3, "c")], [(4, "d"), (5, "e")], [(6, "f")], [(7, "boom")]]
    results = dict(run_pool(chunks, 2, crash_on_boom, noop_init, (), on_crash=died))
    assert sorted(results) == list(range(8))
    assert {r for r, res in results.items() if res.status is Status.DECODE_ERROR} == {2, 7}
    assert results[2].detail == "boom: process died"
    assert all(results[r].detail == p for r, p in enumerate("ab_cdef") if p != "_")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):  # our bugs are raised, not quarantined
        list(run_pool([[(0, "a")], [(1, "bug")]], 2, crash_on_boom, noop_init, (), on_crash=died))


def test_a_path_that_is_not_a_store_says_what_a_store_path_looks_like(tmp_path):
    build_store(pd.DataFrame({"image_id": ["a"], "path": ["a.png"]}), tmp_path, tmp_path / "pixels", sizes=(32,),
                workers=1)
    with pytest.raises(FileNotFoundError, match=r"no pixel store at .*/pixels/224: a store is one resolution folder"
                                                 r".*holds the sizes 32"):
        PixelStore(tmp_path / "pixels" / "224")
    with pytest.raises(FileNotFoundError, match=r"no pixel store at .*/05_model_input/vindr/224"):
        PixelStore(tmp_path / "05_model_input" / "vindr" / "224")


def _sparse_files_supported(where: Path) -> bool:
    probe = where / "sparse.probe"
    with open(probe, "wb") as f:
        f.truncate(8 << 20)
    supported = probe.stat().st_blocks * 512 < (1 << 20)
    probe.unlink()
    return supported


def test_images_not_downloaded_yet_cost_no_disk_and_are_stored_once_they_arrive(tmp_path):
    """Ingesting a tree before its images: an index and holes; rerunning after the download finishes it."""
    if not _sparse_files_supported(tmp_path):
        pytest.skip(f"the file system of {tmp_path} has no sparse files")
    root, out = tmp_path / "root", tmp_path / "store"
    n = 400  # 400 x 224 x 224 = 20 MB of pixels if written
    items = pd.DataFrame({"image_id": [f"p{i}" for i in range(n)], "path": [f"images/{i:05d}.png" for i in range(n)]})
    index = build_store(items, root, out, sizes=(224,), workers=1)
    assert set(index["status"]) == {"missing"}
    images = out / "224" / IMAGES
    assert images.stat().st_size > n * 224 * 224  # the array has its full shape ...
    assert images.stat().st_blocks * 512 < (1 << 20)  # ... and takes (almost) no disk
    assert not np.load(images, mmap_mode="r").any()

    for i in (0, 7, 399):  # three images arrive; a rerun with the same inputs stores them
        write(root / "images" / f"{i:05d}.png", png_bytes(_u8(i)))
    index = build_store(items, root, out, sizes=(224,), workers=1)
    ok = index.loc[index["status"] == "ok", "image_id"].tolist()
    assert ok == ["p0", "p7", "p399"] and (index["status"] == "missing").sum() == n - 3
    store = PixelStore(out / "224")
    assert store.gather(store.row_of(ok)).reshape(3, -1).std(axis=1).min() > 10
    assert len((out / JOURNAL).read_text().splitlines()) == n  # one line per row, not one per try
    assert images.stat().st_blocks * 512 < (1 << 20)


def test_images_found_in_another_folder_than_first_guessed_keep_the_store(tmp_path):
    """A reader guesses where an image not downloaded yet will be; it may arrive elsewhere (NIH's flat
    images/ folder against the release's images_0NN/images/). Same images: same store, nothing rebuilt."""
    root, out = tmp_path / "root", tmp_path / "store"
    write(root / "images" / "a.png", png_bytes(_u8(1)))
    guessed = pd.DataFrame({"image_id": ["a", "b", "c"],
                            "path": ["images/a.png", "images_002/images/b.png", "images_003/images/c.png"]})
    first = build_store(guessed, root, out, sizes=(32,), workers=1)
    assert list(first["status"]) == ["ok", "missing", "missing"]
    write(root / "images" / "b.png", png_bytes(_u8(2)))  # b arrives, in the flat folder
    write(root / "moved" / "a.png", png_bytes(_u8(3)))  # and a is now read from elsewhere (other content)
    found = guessed.assign(path=["moved/a.png", "images/b.png", "images_003/images/c.png"])
    second = build_store(found, root, out, sizes=(32,), workers=1)  # no StoreMismatchError: no rebuild
    assert list(second["status"]) == ["ok", "ok", "missing"]
    store = PixelStore(out / "32")
    want = build_store(found.iloc[:2], root, tmp_path / "fresh", sizes=(32,), workers=1)
    assert list(want["status"]) == ["ok", "ok"]
    fresh = PixelStore(tmp_path / "fresh" / "32")
    np.testing.assert_array_equal(store.gather([0, 1]), fresh.gather([0, 1]))  # a decoded again from its new file
    assert len((out / JOURNAL).read_text().splitlines()) == 3


def test_a_rerun_that_retries_missing_files_leaves_the_store_byte_identical(tmp_path):
    """DVC hashes the store: retrying a still-missing file (decoded in any order) must not change a byte."""
    root, out = tmp_path / "root", tmp_path / "store"
    n = 12
    items = pd.DataFrame({"image_id": [f"p{i}" for i in range(n)], "path": [f"images/{i:05d}.png" for i in range(n)]})
    for i in range(0, n, 2):  # every other image is there; the rest never arrives
        write(root / "images" / f"{i:05d}.png", png_bytes(_u8(i)))
    build_store(items, root, out, sizes=(32,), workers=2, chunk_size=1, commit_every_s=0)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    index = build_store(items, root, out, sizes=(32,), workers=2, chunk_size=1)
    assert (index["status"] == "missing").sum() == n // 2
    assert {p: p.read_bytes() for p in files} == before
    rows = [json.loads(line)[0] for line in (out / JOURNAL).read_text().splitlines()]
    assert rows == list(range(n))  # in row order


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_store_of_version_2_is_re_hashed_with_blake3_and_nothing_is_decoded_again(tmp_path, decoded):
    """Store version 2 recorded SHA-256; the next build re-hashes its files (verified against the SHA-256
    it recorded) instead of decoding them: the store ends byte for byte as a fresh build of version 3."""
    root, out = tmp_path / "root", tmp_path / "store"
    items = _small_items(root, 6)
    items.loc[len(items)] = ["gone", "never_there.png"]
    write(root / "img_005.png", _corrupt_idat(png_bytes(_u8(5))))  # a quarantined row keeps its hash too
    build_store(items, root, out, sizes=(32,), workers=1)
    as_store_version_2(out, root)
    assert "source_hash" in pd.read_parquet(out / "32" / INDEX).columns
    write(root / "img_002.png", png_bytes(_u8(22)))  # changed since it was decoded: decoded again
    decoded.clear()

    index = build_store(items, root, out, sizes=(32,), workers=1)
    assert sorted(decoded) == ["img_002.png", "never_there.png"]  # the changed file and the missing one
    assert json.loads((out / FINGERPRINT).read_text())["version"] == 3
    want = [None if p == "never_there.png" else blake3((root / p).read_bytes()).hexdigest() for p in items["path"]]
    assert [None if pd.isna(h) else h for h in index["source_blake3"]] == want
    assert "source_hash" not in index.columns
    fresh = tmp_path / "fresh"
    build_store(items, root, fresh, sizes=(32,), workers=1)
    assert _files(out) == _files(fresh)
    decoded.clear()
    build_store(items, root, out, sizes=(32,), workers=1)  # a version-3 store: only the missing file again
    assert decoded == ["never_there.png"]


def test_a_store_of_version_2_whose_files_are_gone_is_refused_and_left_as_it_is(tmp_path):
    root, out = tmp_path / "root", tmp_path / "store"
    items = _small_items(root, 4)
    build_store(items, root, out, sizes=(32,), workers=1)
    as_store_version_2(out, root)
    (root / "img_001.png").unlink()  # raw files deleted after ingestion: the hash cannot be recomputed
    before = _files(out)
    with pytest.raises(StoreMismatchError, match=r"store version 2.*SHA-256.*BLAKE3.*1 of the files.*'img_001.png'"
                                                 r".*Nothing was changed") as err:
        build_store(items, root, out, sizes=(32,), workers=1)
    assert err.value.differs == []  # the ingestion pipeline re-raises it: no automatic rebuild
    assert _files(out) == before
    assert PixelStore(out / "32").gather([1]).any()  # its images stay readable
    index = build_store(items, root, out, sizes=(32,), workers=1, overwrite=True)  # the way out it names
    assert list(index["status"]) == ["ok", "missing", "ok", "ok"] and index["source_blake3"].notna().sum() == 3


def test_a_store_of_an_unknown_version_is_refused_with_both_versions_named(tmp_path):
    root, out = tmp_path / "root", tmp_path / "store"
    items = _small_items(root, 2)
    build_store(items, root, out, sizes=(32,), workers=1)
    fingerprint = json.loads((out / FINGERPRINT).read_text())
    (out / FINGERPRINT).write_text(json.dumps({**fingerprint, "version": 1}))
    with pytest.raises(StoreMismatchError, match="differs in: version.*store version 1 .*writes version 3"):
        build_store(items, root, out, sizes=(32,), workers=1)


def test_upgrading_a_store_keeps_what_its_pixels_are(tmp_path):
    """Training cells are known by the store's content identity: version 2 and 3 of one store are equal."""
    from cxrinit.imaging.store import content_identity

    root, out = tmp_path / "root", tmp_path / "store"
    build_store(_small_items(root, 2), root, out, sizes=(32,), workers=1)
    now = json.loads((out / FINGERPRINT).read_text())
    assert content_identity({**now, "version": 2}) == content_identity(now) == {**now, "version": 2}
    assert content_identity({**now, "version": 1}) != content_identity(now)
    assert content_identity({**now, "recipe": {**now["recipe"], "fit": "letterbox"}}) != content_identity(now)
