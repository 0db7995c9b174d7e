"""The pixel store: every image of a source, decoded once, as fixed-shape uint8 arrays on disk.

Layout of ``out_dir``::

    fingerprint.json       what the store was built from (items, sizes, recipe); guards resumes
    journal.jsonl          append-only: one line per finished row, written after its pixels are synced
    <size>/images.npy      N x size x size uint8, a plain .npy (np.load(mmap_mode="r") reads it)
    <size>/index.parquet   image_id, row, status, detail, orig_height, orig_width, photometric,
                           bits, format, source_blake3; the same rows for every size

Row ``i`` is item ``i``; quarantined images keep their (all-zero) row and carry their reason as
status, so row numbers never shift. The arrays are created sparse and a quarantined row is never
written, so images that are not there cost no disk (on file systems with sparse files: ext4, XFS,
btrfs, APFS, NTFS): a tree whose images are not downloaded yet gives a store of index and holes.
Rows whose file was not there or not whole (``missing``, ``zero_bytes``, ``truncated``) are tried
again by every later build with the same inputs, so downloading the images and rerunning finishes
the store. Resuming: a run killed at any moment (even SIGKILL) is finished
by running ``build_store`` again with the same inputs. Rows are only journaled once their pixels are
on disk, a partial journal line is discarded, and the index is written at the end via a temporary
file and a rename, so the final files are byte-identical to an uninterrupted run. Other inputs
(items, sizes or recipe) are refused with :class:`StoreMismatchError`; ``overwrite=True`` deletes
the store's own files and starts over.

``source_blake3`` is the BLAKE3 hash of each source file's bytes (store version 3). A store of
version 2 recorded SHA-256 instead (column ``source_hash``): the next build with the same inputs
re-hashes its files (no image is decoded again; a file whose SHA-256 no longer matches is decoded
again) and refuses, changing nothing, when some of them are gone. Hashes of the two kinds are never
mixed in one store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cxrinit.imaging.decode import read_source, resolve_in_root
from cxrinit.imaging.pool import run_pool
from cxrinit.imaging.process import ProcessedImage, crashed, hash_bytes, init_worker, process_chunk, process_image
from cxrinit.imaging.reasons import QuarantineError, Status
from cxrinit.imaging.transforms import Recipe

log = logging.getLogger(__name__)

#: 3: source files hashed with BLAKE3 (index column ``source_blake3``; version 2 recorded SHA-256 as
#: ``source_hash``); 2: the fingerprint covers image ids (not paths), the journal records each row's path.
STORE_VERSION = 3
#: The last store version that changed what the pixels are or which images a fingerprint names: a store
#: upgraded from version 2 holds the same pixels, so :func:`content_identity` is unchanged by the upgrade.
CONTENT_VERSION = 2
FINGERPRINT = "fingerprint.json"
JOURNAL = "journal.jsonl"
IMAGES = "images.npy"
INDEX = "index.parquet"
INDEX_COLUMNS = [
    "image_id",
    "row",
    "status",
    "detail",
    "orig_height",
    "orig_width",
    "photometric",
    "bits",
    "format",
    "source_blake3",
]
#: Statuses that say the file was not (wholly) there yet: a later build tries these rows again.
RETRIED = frozenset({Status.MISSING.value, Status.ZERO_BYTES.value, Status.TRUNCATED.value})
# One journal record: (status, detail, orig_height, orig_width, photometric, bits, format, source_blake3)
Record = tuple[str, str, int | None, int | None, str | None, int | None, str | None, str | None]


class StoreMismatchError(RuntimeError):
    """``out_dir`` holds a store built from other inputs, or something that is no store; ``differs``
    names what changed (``items_hash``, ``sizes``, ``recipe``, ...) when it is another store."""

    def __init__(self, message: str, differs: list[str] | None = None) -> None:
        super().__init__(message)
        self.differs = differs or []


def build_store(
    items: pd.DataFrame,
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sizes: Sequence[int] = (224,),
    recipe: Recipe = Recipe(),
    workers: int | None = None,
    *,
    overwrite: bool = False,
    chunk_size: int = 8,
    commit_every_s: float = 2.0,
) -> pd.DataFrame:
    """Decode every ``items`` row (``image_id``, ``path`` relative to ``root``) once into the store.

    Writes one array per size under ``out_dir/<size>/`` and returns the index (same for all sizes).
    ``workers`` processes decode in parallel (default: all cores; 1 = in this process); they are
    handed ``chunk_size`` images at a time. Finished rows are synced and journaled every
    ``commit_every_s`` seconds, the most work a kill can cost. Running it again with the same
    items, sizes and recipe finishes an interrupted build (or returns at once); other inputs raise
    :class:`StoreMismatchError` unless ``overwrite=True``. ``root`` is not part of that check:
    a moved dataset keeps its store, and ``source_blake3`` (BLAKE3 of the file's bytes) records
    what was read. A store written by store version 2 (SHA-256 hashes) is re-hashed first, see the
    module docstring.
    """
    ids, paths = _validate_items(items)
    sizes = _validate_sizes(sizes)
    out = Path(out_dir)
    fingerprint = _fingerprint(ids, paths, sizes, recipe)
    _upgrade(out, fingerprint, root, paths, workers, overwrite)
    _prepare(out, fingerprint, overwrite)
    created = [size for size in sizes if _create_array(out / str(size) / IMAGES, len(ids), size)]
    journal = Journal(out / JOURNAL, len(ids), paths)
    done = journal.load()
    if created and done:
        raise StoreMismatchError(
            f"{out}: images for size(s) {created} were missing although {len(done)} rows are journaled; "
            "the store was tampered with. Pass overwrite=True to rebuild it.", ["images"]
        )
    retried = [row for row, rec in done.items() if rec[0] in RETRIED]
    for row in retried:
        del done[row]
    if journal.moved:
        log.info("pixel store %s: %d images have another path than when they were decoded; decoding them "
                 "again from where they are now", out, journal.moved)
    first_row: dict[str, int] = {}
    duplicates: list[tuple[int, Record]] = []
    todo: list[int] = []
    for row, image_id in enumerate(ids):
        if image_id in first_row:
            if row not in done:
                duplicates.append((row, (Status.DUPLICATE_ID.value, f"same image_id as row {first_row[image_id]}",
                                         None, None, None, None, None, None)))
            continue
        first_row[image_id] = row
        if row not in done:
            todo.append(row)

    # A row of a fresh (sparse) array is a hole that reads as zeros: quarantines write nothing there.
    writers = {size: RowWriter(out / str(size) / IMAGES, fresh=size in created) for size in sizes}
    try:
        log.info("pixel store %s: %d images, %d already done, %d to do, sizes %s",
                 out, len(ids), len(done), len(todo) + len(duplicates), list(sizes))
        if retried:
            log.info("pixel store %s: trying %d rows again whose file was missing or incomplete before",
                     out, len(retried))
        pending: list[tuple[int, Record]] = []

        def commit() -> None:
            if pending:
                for w in writers.values():
                    w.sync()
                journal.append(pending)
                done.update(pending)
                pending.clear()

        for row, rec in duplicates:
            for w in writers.values():
                w.write_zeros(row)
            pending.append((row, rec))
        commit()

        start = time.perf_counter()
        last_commit = start
        results = process_many([(row, paths[row]) for row in todo], root, sizes, recipe, workers, chunk_size)
        with tqdm(total=len(todo), desc=f"pixel store {out.name}", unit="img", disable=None) as bar:
            for row, res in results:
                for size, w in writers.items():
                    img = res.images.get(size)
                    if img is None:
                        w.write_zeros(row)
                    else:
                        w.write(row, img)
                pending.append((row, _record(res)))
                bar.update(1)
                if time.perf_counter() - last_commit >= commit_every_s:
                    commit()
                    last_commit = time.perf_counter()
            commit()
        elapsed = time.perf_counter() - start
    finally:
        for w in writers.values():
            w.close()

    if len(done) != len(ids):
        raise RuntimeError(f"pixel store {out}: {len(ids) - len(done)} rows unfinished; run build_store again")
    if retried or journal.moved or todo or duplicates:
        # One line per row, in row order, however often and in whatever order rows were decoded: the same
        # store gives the same bytes, so a rerun that retries a missing file leaves DVC's hash unchanged.
        journal.rewrite(done)
    index = _index_frame(ids, done)
    for size in sizes:
        _atomic_parquet(index, out / str(size) / INDEX)
    counts = Counter(index["status"])
    rate = len(todo) / elapsed if elapsed > 0 else float("inf")
    log.info("pixel store %s: %d images decoded in %.1f s (%.1f images/s); statuses %s",
             out, len(todo), elapsed, rate, dict(sorted(counts.items())))
    return index


class PixelStore:
    """Read side of one resolution of a store: ``PixelStore(out_dir / "224")``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        index_path = self.path / INDEX
        if not self.path.is_dir():
            sizes = sorted(p.name for p in self.path.parent.glob("[0-9]*") if (p / INDEX).is_file()) \
                if self.path.parent.is_dir() else []
            found = f"; {self.path.parent} holds the sizes {', '.join(sizes)}" if sizes else ""
            raise FileNotFoundError(
                f"no pixel store at {self.path}: a store is one resolution folder, <pixel store>/<size>, e.g. "
                f"data/03_primary/<source>/pixels/224 as the ingestion pipeline writes it{found}")
        if not index_path.exists():
            raise FileNotFoundError(
                f"{index_path} missing: the store at {self.path} is incomplete or not a store "
                "(run build_store again with the same inputs to finish it)"
            )
        self.images: np.ndarray = np.load(self.path / IMAGES, mmap_mode="r")
        self.index: pd.DataFrame = pd.read_parquet(index_path)
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise ValueError(
                f"{self.path / IMAGES}: expected N x H x W uint8, got {self.images.dtype} {self.images.shape}"
            )
        rows = self.index["row"].to_numpy()
        if len(self.index) != len(self.images) or not np.array_equal(rows, np.arange(len(self.images))):
            raise ValueError(f"{self.path}: index rows do not match the {len(self.images)} stored images")
        first = self.index[self.index["status"] != Status.DUPLICATE_ID.value]
        self._ids = pd.Index(first["image_id"])
        self._rows = first["row"].to_numpy()

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of rows whose status is ok."""
        return (self.index["status"] == Status.OK.value).to_numpy()

    def row_of(self, image_ids: Iterable[str] | str) -> np.ndarray:
        """Rows of ``image_ids`` (int64); KeyError naming the ids that are not in the store."""
        ids = [image_ids] if isinstance(image_ids, str) else list(image_ids)
        pos = self._ids.get_indexer(ids)
        if (pos < 0).any():
            missing = [i for i, p in zip(ids, pos) if p < 0]
            raise KeyError(f"{len(missing)} image_ids not in store {self.path}, e.g. {missing[:5]}")
        return self._rows[pos].astype(np.int64)

    def gather(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Copy of the images at ``rows`` (any order) as a uint8 (n, H, W) array."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"rows must be within 0..{len(self) - 1}, got {rows.min()}..{rows.max()}")
        order = np.argsort(rows, kind="stable")  # sorted reads are sequential on disk
        out = np.empty((rows.size, *self.images.shape[1:]), np.uint8)
        out[order] = self.images[rows[order]]
        return out


# --- items and fingerprint -------------------------------------------------------------------------


def _validate_items(items: pd.DataFrame) -> tuple[list[str], list[str]]:
    missing = [c for c in ("image_id", "path") if c not in items.columns]
    if missing:
        raise ValueError(f"items lacks column(s) {missing}; it needs image_id and path (relative to root)")
    for col in ("image_id", "path"):
        bad = items[col].isna() | (items[col].astype(str).str.len() == 0)
        if bad.any():
            pos = np.flatnonzero(bad.to_numpy())[:5].tolist()
            raise ValueError(f"items column {col!r} is empty at row(s) {pos}; every row needs an image_id and a path")
    return items["image_id"].astype(str).tolist(), items["path"].astype(str).tolist()


def _validate_sizes(sizes: Sequence[int] | int) -> tuple[int, ...]:
    sizes = (sizes,) if isinstance(sizes, int) else tuple(sizes)
    if not sizes or any(int(s) != s or s < 1 for s in sizes):
        raise ValueError(f"sizes must be positive integers, got {sizes}")
    return tuple(sorted({int(s) for s in sizes}))


def _fingerprint(ids: list[str], paths: list[str], sizes: tuple[int, ...], recipe: Recipe) -> dict[str, Any]:
    """What the store holds: which images (ids, in order), at which sizes, made how. Paths are not part
    of it: images that arrive in another folder than first guessed, or a reorganized download, are
    the same store; the journal notices a changed path and decodes that row again."""
    del paths
    h = hashlib.blake2b(digest_size=16)
    for image_id in ids:
        h.update(image_id.encode() + b"\n")
    return {"version": STORE_VERSION, "n_items": len(ids), "items_hash": h.hexdigest(),
            "sizes": list(sizes), "recipe": recipe.to_dict()}


def content_identity(fingerprint: dict[str, Any]) -> dict[str, Any]:
    """What a store's fingerprint says its pixels are, whichever store version wrote it: the fingerprint
    with ``version`` as :data:`CONTENT_VERSION` for every later version that holds the same pixels.
    Training cells are known by it, so upgrading a store (version 2 -> 3: other source hashes, the
    same pixels) does not make its finished cells train again."""
    found = dict(fingerprint)
    if isinstance(found.get("version"), int) and found["version"] >= CONTENT_VERSION:
        found["version"] = CONTENT_VERSION
    return found


def _own_files(out: Path) -> list[Path]:
    """The files build_store may create in ``out`` (nothing else is ever deleted)."""
    found = [out / n for n in (FINGERPRINT, FINGERPRINT + ".tmp", JOURNAL, JOURNAL + ".tmp") if (out / n).exists()]
    for sub in out.iterdir():
        if sub.is_dir() and sub.name.isdigit():
            found += [sub / n for n in (IMAGES, IMAGES + ".tmp", INDEX, INDEX + ".tmp") if (sub / n).exists()]
    return found


def _wipe(out: Path) -> None:
    for f in _own_files(out):
        f.unlink()
    for sub in out.iterdir():
        if sub.is_dir() and sub.name.isdigit() and not any(sub.iterdir()):
            sub.rmdir()


def _prepare(out: Path, fingerprint: dict[str, Any], overwrite: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fp_path = out / FINGERPRINT
    if fp_path.exists():
        old = json.loads(fp_path.read_text())
        if old == fingerprint:
            return
        if not overwrite:
            what = [k for k in fingerprint if old.get(k) != fingerprint[k]]
            older = "" if old.get("version") == STORE_VERSION else (
                f" and written by store version {old.get('version')} (this cxrinit writes version {STORE_VERSION}, "
                "whose index records other source hashes)")
            raise StoreMismatchError(
                f"{out} holds a pixel store built from other inputs (differs in: {', '.join(what)}){older}; "
                "refusing to mix them. Pass overwrite=True to rebuild it, or choose another out_dir.", what
            )
        log.warning("pixel store %s: inputs changed (overwrite=True), rebuilding from scratch", out)
        _wipe(out)
    else:
        own = set(_own_files(out))
        strangers = [p.name for p in out.iterdir() if p not in own and not (p.is_dir() and p.name.isdigit())]
        if strangers and not overwrite:
            raise StoreMismatchError(
                f"{out} is not empty and is no pixel store (found {strangers[:5]}); choose an empty out_dir"
            )
        _wipe(out)
    _write_fingerprint(out, fingerprint)


def _write_fingerprint(out: Path, fingerprint: dict[str, Any]) -> None:
    fp_path = out / FINGERPRINT
    tmp = fp_path.with_name(FINGERPRINT + ".tmp")
    tmp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
    _fsync_path(tmp)
    os.replace(tmp, fp_path)


def _upgrade(out: Path, fingerprint: dict[str, Any], root: str | os.PathLike[str], paths: list[str],
             workers: int | None, overwrite: bool) -> None:
    """Bring a store of version 2 (SHA-256 source hashes), built from the same inputs, to this version.

    Each journaled file is read again: when its SHA-256 is still the journaled one, its BLAKE3 replaces
    it (the hash is then of the very bytes that were decoded); a file that changed since is left to be
    decoded again, as is a quarantined row whose file is gone. The journal is replaced first, then the
    fingerprint, so a kill in between only leaves hashes that this check accepts again. When files of
    rows that hold images are gone, their hashes cannot be recomputed: StoreMismatchError (nothing
    changed) unless ``overwrite``, which rebuilds the store (see :func:`_prepare`).
    """
    fp_path = out / FINGERPRINT
    try:
        old = json.loads(fp_path.read_text()) if fp_path.is_file() else None
    except ValueError:
        return  # _prepare says what is wrong with it
    if not isinstance(old, dict) or old.get("version") != 2 or {**old, "version": STORE_VERSION} != fingerprint:
        return  # not version 2, or other inputs too: _prepare refuses (or rebuilds with overwrite)
    done = Journal(out / JOURNAL, len(paths), paths).load()
    hashed = sorted(row for row, rec in done.items() if rec[7] is not None and rec[0] not in RETRIED)
    log.info("pixel store %s: written by store version 2, which recorded SHA-256 hashes of the source files; "
             "re-hashing its %d files with BLAKE3 (no image is decoded again)", out, len(hashed))

    def rehash(row: int) -> tuple[int, str | None]:
        """(row, BLAKE3) of the file if it still has the bytes that were decoded; "" changed; None gone."""
        try:
            data = read_source(resolve_in_root(root, paths[row]), paths[row])
        except QuarantineError:
            return row, None
        new, was = hash_bytes(data), done[row][7]
        return row, new if was in (new, hashlib.sha256(data).hexdigest()) else ""

    threads = max(1, workers or usable_cores())
    upgraded = dict(done)
    gone, changed, rehashed = [], 0, 0
    with ThreadPoolExecutor(threads) as pool, \
            tqdm(total=len(hashed), desc=f"re-hashing {out.name}", unit="file", disable=None) as bar:
        for row, new in pool.map(rehash, hashed):  # hashlib, BLAKE3 and reads release the GIL
            bar.update(1)
            if new:
                upgraded[row] = (*done[row][:7], new)
                rehashed += 1
                continue
            del upgraded[row]  # decoded again by this build
            if new is None and done[row][0] == Status.OK.value:
                gone.append(row)
            changed += new == ""
    for row, rec in done.items():
        if rec[0] in RETRIED:
            upgraded.pop(row, None)  # tried again by every build anyway
    if gone:
        if overwrite:
            return  # _prepare rebuilds the store from scratch
        shown = ", ".join(repr(paths[r]) for r in gone[:3])
        raise StoreMismatchError(
            f"{out} is a pixel store of store version 2, which recorded SHA-256 hashes of its source files; this "
            f"cxrinit records BLAKE3 (index column source_blake3) and re-hashes such a store from its files, but "
            f"{len(gone)} of the files it holds images of are not under {root} any more (e.g. {shown}). Nothing "
            "was changed, and its images stay readable as they are. Put the files back and run again to upgrade "
            "it, or pass overwrite=True (or delete the store) to rebuild it from the files that are there.")
    Journal(out / JOURNAL, len(paths), paths).rewrite(upgraded)
    _write_fingerprint(out, fingerprint)
    log.info("pixel store %s: now store version %d; %d files re-hashed, %d changed since they were decoded "
             "and %d quarantined files gone (both decoded again)", out, STORE_VERSION, rehashed, changed,
             len(hashed) - rehashed - changed)


# --- files -----------------------------------------------------------------------------------------


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_array(path: Path, n: int, size: int) -> bool:
    """Create the zero-filled .npy (sparse) under a temporary name, then rename it; False if it exists."""
    if path.exists():
        shape, dtype, _ = _npy_header(path)
        if shape != (n, size, size) or dtype != np.uint8:
            raise StoreMismatchError(f"{path} has shape {shape} {dtype}, expected ({n}, {size}, {size}) uint8")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(IMAGES + ".tmp")
    if n:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, size, size))
        mm.flush()
        del mm
    else:  # an empty file cannot be mapped
        np.save(tmp, np.zeros((0, size, size), np.uint8), allow_pickle=False)
        os.replace(tmp.with_name(tmp.name + ".npy"), tmp)
    _fsync_path(tmp)
    os.replace(tmp, path)
    return True


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a .npy file, read from its header."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
        if fortran:
            raise StoreMismatchError(f"{path} is Fortran-ordered; not written by build_store")
        return shape, dtype, f.tell()


class RowWriter:
    """Writes whole rows of an existing N x H x W uint8 .npy with pwrite (no mapping in the parent).

    ``fresh``: the array was created by this build, so unwritten rows are holes that read as zeros
    and :meth:`write_zeros` has nothing to do (a missing image costs no disk).
    """

    def __init__(self, path: Path, fresh: bool = False) -> None:
        shape, _, self.offset = _npy_header(path)
        self.shape = tuple(shape[1:])
        self.row_bytes = int(np.prod(self.shape))
        self.fd = os.open(path, os.O_RDWR)
        self.fresh = fresh
        self._zeros = bytes(self.row_bytes)

    def write(self, row: int, img: np.ndarray) -> None:
        if img.shape != self.shape or img.dtype != np.uint8:
            raise ValueError(f"row {row}: got {img.dtype} {img.shape}, store holds uint8 {self.shape}")
        os.pwrite(self.fd, np.ascontiguousarray(img).tobytes(), self.offset + row * self.row_bytes)

    def write_zeros(self, row: int) -> None:
        """Make ``row`` all zeros, writing only if it holds something (e.g. from an earlier build's
        pixels of a file that has since gone), so holes stay holes."""
        if self.fresh:
            return
        at = self.offset + row * self.row_bytes
        if os.pread(self.fd, self.row_bytes, at).count(0) != self.row_bytes:
            os.pwrite(self.fd, self._zeros, at)

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Journal:
    """Append-only JSON lines, one per finished row with the path it was decoded from; a torn last line
    (kill mid-write) is dropped. ``paths``: this build's path per row; a row journaled from another path
    is not done (``moved`` counts them)."""

    def __init__(self, path: Path, n_rows: int, paths: list[str]) -> None:
        self.path = path
        self.n_rows = n_rows
        self.paths = paths
        self.moved = 0

    def load(self) -> dict[int, Record]:
        if not self.path.exists():
            self.path.touch()
            return {}
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        done: dict[int, Record] = {}
        last: dict[int, list[Any]] = {}
        for lineno, line in enumerate(complete.splitlines(), 1):
            try:
                row, *rec = json.loads(line)
            except (ValueError, TypeError):
                msg = f"{self.path} line {lineno} is corrupt; delete the store (or pass overwrite=True) to rebuild it"
                raise StoreMismatchError(msg) from None
            if not (0 <= row < self.n_rows) or len(rec) != 9:
                raise StoreMismatchError(f"{self.path} line {lineno} does not fit this store; delete it to rebuild")
            last[row] = rec  # a row tried again has a later line
        for row, rec in last.items():
            if rec[8] == self.paths[row]:
                done[row] = tuple(rec[:8])  # type: ignore[assignment]
            else:
                self.moved += 1
        return done

    def rewrite(self, done: dict[int, Record]) -> None:
        """Replace the journal by one line per row of ``done`` (temporary file, then rename)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps([row, *done[row], self.paths[row]], separators=(",", ":")) + "\n"
                               for row in sorted(done)))
        _fsync_path(tmp)
        os.replace(tmp, self.path)

    def append(self, entries: list[tuple[int, Record]]) -> None:
        data = "".join(json.dumps([row, *rec, self.paths[row]], separators=(",", ":")) + "\n" for row, rec in entries)
        with open(self.path, "ab") as f:
            f.write(data.encode())
            f.flush()
            os.fsync(f.fileno())


def _record(res: ProcessedImage) -> Record:
    m = res.meta
    if m is None:
        return (res.status.value, res.detail, None, None, None, None, None, res.source_blake3)
    return (res.status.value, res.detail, m.height, m.width, m.photometric or None,
            m.bits or None, m.format or None, res.source_blake3)


def _index_frame(ids: list[str], done: dict[int, Record]) -> pd.DataFrame:
    rows = range(len(ids))
    cols = list(zip(*(done[r] for r in rows))) if ids else [()] * 8
    frame = pd.DataFrame({
        "image_id": pd.array(ids, dtype="string"),
        "row": np.arange(len(ids), dtype=np.int64),
        "status": pd.array(cols[0], dtype="string"),
        "detail": pd.array(cols[1], dtype="string"),
        "orig_height": pd.array(cols[2], dtype="Int32"),
        "orig_width": pd.array(cols[3], dtype="Int32"),
        "photometric": pd.array(cols[4], dtype="string"),
        "bits": pd.array(cols[5], dtype="Int32"),
        "format": pd.array(cols[6], dtype="string"),
        "source_blake3": pd.array(cols[7], dtype="string"),
    })
    return frame[INDEX_COLUMNS]


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(INDEX + ".tmp")
    frame.to_parquet(tmp, index=False)
    _fsync_path(tmp)
    os.replace(tmp, path)


# --- decoding, in this process or a pool -----------------------------------------------------------

def usable_cores() -> int:
    """Cores this process may run on (affinity-aware, unlike os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def process_many(
    tasks: Sequence[tuple[int, str]],
    root: str | os.PathLike[str],
    sizes: tuple[int, ...],
    recipe: Recipe,
    workers: int | None = None,
    chunk_size: int = 8,
) -> Iterator[tuple[int, ProcessedImage]]:
    """Process ``(key, path relative to root)`` tasks; yields ``(key, result)`` as they finish.

    ``workers`` > 1 uses the crash-tolerant process pool (a decoder crash becomes that image's
    ``decode_error``); 1 processes in this process; None means every usable core.
    """
    workers = usable_cores() if workers is None else workers
    if workers <= 1 or len(tasks) <= 1:
        for key, path in tasks:
            yield key, process_image(root, path, sizes, recipe)
        return
    chunk_size = max(1, min(chunk_size, -(-len(tasks) // (4 * workers))))
    chunks = [list(tasks[i : i + chunk_size]) for i in range(0, len(tasks), chunk_size)]
    yield from run_pool(chunks, workers, process_chunk, init_worker, (str(root), sizes, recipe),
                        on_crash=crashed, preload=["cxrinit.imaging.process"])
