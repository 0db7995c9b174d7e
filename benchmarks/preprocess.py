"""Preprocessing benchmark: our pixel store vs the study's recipe, on the same full-size files.

    PYTHONPATH=src python benchmarks/preprocess.py [--n 48] [--size 224] [--workers N] [--formats jpeg,png,dicom]

Generates chest-like inputs in a temp dir: 3000x2500 8-bit JPEG (MIMIC/CheXpert), 2048x2048
16-bit PNG (PadChest), 3000x3000 14-bit DICOM, half MONOCHROME1, with a window covering the data
(VinDr). Then, per format, each case runs in its own subprocess (so its peak memory, sampled over
the whole process tree, is its own):

* the study: one process, per image as the study's preprocessing does it: pydicom ``pixel_array``,
  or OpenCV ``imread`` in colour (16-bit PNG keeps its high byte) then ``cvtColor`` to gray;
  ``scipy.ndimage.zoom(order=2)`` to size x size; min-max to [0, 1]; ``img_as_ubyte`` (x 255,
  rounded to nearest); MONOCHROME1 inverted; ``cv2.equalizeHist``. Run twice: pinned to one core
  (OpenCV single-threaded) for the like-for-like ratio, and as users run it (one process, the
  libraries' own threads) for the default ratio;
* ours with ``Recipe.paper()`` (the study's recipe, the same output) in one process pinned to one
  core (``workers=1``): the like-for-like case;
* ours with the default ``Recipe`` (antialiased resize, 16-bit PNG kept, DICOM window, JPEG DCT
  scaling) on one core, and on all cores (``build_store``'s default): what a user gets;
* the decode-only floor: reading each file and decoding it with the decoder our default recipe uses
  (Pillow's libjpeg at the same DCT scale, OpenCV's libpng at 16 bits, pydicom's header parse and a
  view of the native pixel data), one core, nothing else: the least any preprocessing of these
  files costs with that decoder.

Each of ours starts with a 2-image warm-up (process pool, imports) before the clock starts, as the
study's side runs with its libraries already imported. Prints three tables (like-for-like, default,
distance to the decode floor), per image the share of identical pixels and the mean absolute
difference against the study's output, and peak memory (proportional set size of the whole process
tree, sampled every 50 ms). The last two lines are ``like-for-like: <ratio>x`` and
``speedup: <ratio>x``, the default configuration's (total study time / total our time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

FORMATS = ("jpeg", "png", "dicom")
SHAPES = {"jpeg": (3000, 2500), "png": (2048, 2048), "dicom": (3000, 3000)}
SUFFIX = {"jpeg": ".jpg", "png": ".png", "dicom": ".dcm"}


# --- synthetic inputs ------------------------------------------------------------------------------


def chest(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A chest-like float32 image in [0, 1]: body, lungs, mediastinum, ribs, blobs, mild grain."""
    import cv2

    sh, sw = height // 8, width // 8  # anatomy is smooth: draw small, upsample
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy /= sh
    xx /= sw
    img = 0.25 + 0.25 * yy + 0.05 * rng.normal()
    img += 0.3 * ((((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.55) ** 2) < 1)
    for cx in (0.3, 0.7):
        d = ((xx - cx - rng.normal(0, 0.02)) / 0.17) ** 2 + ((yy - 0.45 - rng.normal(0, 0.02)) / 0.3) ** 2
        img -= 0.35 * np.exp(-(d**2))
    img += 0.25 * np.exp(-(((xx - 0.5) / 0.07) ** 2))
    for k in range(10):
        img += 0.04 * np.exp(-((yy - 0.2 - k * 0.06 - 0.08 * np.abs(xx - 0.5)) ** 2) / 0.0002)
    for _ in range(20):
        cy, cx, s = rng.random(), rng.random(), rng.uniform(0.01, 0.06)
        img += rng.normal(0, 0.05) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    img = cv2.resize(img.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (0, 0), 2)
    img += rng.normal(0, 0.004, (height, width)).astype(np.float32)
    return np.clip(img, 0, 1)


def _dicom_template():  # noqa: ANN202
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.SamplesPerPixel = 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 14, 13, 0
    return ds


def generate(fmt: str, n: int, out: Path, seed: int = 0) -> list[str]:
    """Write ``n`` files of ``fmt`` under ``out``; return their names."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = SHAPES[fmt]
    names = []
    for i in range(n):
        img = chest(h, w, rng)
        name = f"{fmt}_{i:04d}{SUFFIX[fmt]}"
        if fmt == "jpeg":
            cv2.imwrite(str(out / name), np.rint(img * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
        elif fmt == "png":
            img16 = np.rint(2000 + img * 60000).astype(np.uint16)
            cv2.imwrite(str(out / name), img16, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        else:
            ds = _dicom_template()
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{seed}.{i + 1}"
            raw = np.rint(img * 16383).astype(np.uint16)
            inverted = i % 2 == 1
            ds.PhotometricInterpretation = "MONOCHROME1" if inverted else "MONOCHROME2"
            if inverted:
                raw = 16383 - raw
            ds.Rows, ds.Columns = raw.shape
            ds.WindowCenter, ds.WindowWidth = 8192, 16384  # covers the stored range, like a default window
            ds.PixelData = raw.tobytes()
            ds.save_as(out / name, enforce_file_format=True)
        names.append(name)
    return names


# --- the cases, each run in a subprocess ------------------------------------------------------------


def img_as_ubyte(img: np.ndarray) -> np.ndarray:
    """``skimage.util.img_as_ubyte`` of a float image in [0, 1]: x 255, rounded to nearest (half to even), uint8."""
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def reference_one(path: Path, fmt: str, size: int) -> np.ndarray:
    """The study's preprocessing of one file (see the module docstring)."""
    import cv2
    import pydicom
    from scipy import ndimage

    inverted = False
    if fmt == "dicom":
        ds = pydicom.dcmread(path)
        img = ds.pixel_array
        inverted = ds.PhotometricInterpretation == "MONOCHROME1"
    else:
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)  # colour read (8-bit), then gray
    img = ndimage.zoom(img, (size / img.shape[0], size / img.shape[1]), order=2)
    img = img.astype(np.float64)
    img = img_as_ubyte((img - img.min()) / (img.max() - img.min()))
    if inverted:
        img = 255 - img
    return cv2.equalizeHist(img)


def run_reference(root: Path, names: list[str], fmt: str, size: int, out: Path) -> dict:
    reference_one(root / names[0], fmt, size)  # import and warm like ours
    start = time.perf_counter()
    result = np.stack([reference_one(root / n, fmt, size) for n in names])
    elapsed = time.perf_counter() - start
    np.save(out, result)
    return {"seconds": elapsed}


def run_ours(root: Path, names: list[str], size: int, workers: int, recipe: str, out: Path) -> dict:
    import pandas as pd

    from cxrinit.imaging import Recipe, build_store

    chosen = Recipe.paper() if recipe == "paper" else Recipe()
    warm = pd.DataFrame({"image_id": names[:2], "path": names[:2]})
    build_store(warm, root, out.with_name(out.name + "_warmup"), sizes=(size,), recipe=chosen, workers=workers,
                overwrite=True)
    items = pd.DataFrame({"image_id": names, "path": names})
    start = time.perf_counter()
    index = build_store(items, root, out, sizes=(size,), recipe=chosen, workers=workers)
    elapsed = time.perf_counter() - start
    bad = index[index["status"] != "ok"]
    if len(bad):
        shown = bad[["image_id", "status", "detail"]].head()
        raise SystemExit(f"ours quarantined {len(bad)} benchmark images:\n{shown}")
    return {"seconds": elapsed}


#: What the default recipe decodes each format with (the floor's decoder).
DECODERS = {"jpeg": "Pillow (libjpeg), DCT-scaled", "png": "OpenCV (libpng), 16-bit",
            "dicom": "pydicom header + native view"}


def floor_one(path: Path, fmt: str, size: int) -> np.ndarray:
    """Read ``path`` and decode it as our default recipe's decoder does, and nothing more."""
    import io

    import cv2
    import pydicom
    from PIL import Image

    data = path.read_bytes()
    if fmt == "jpeg":
        im = Image.open(io.BytesIO(data))
        im.draft("L", (size, size))  # the smallest DCT scale still covering size x size, as ours asks
        im.load()
        return np.asarray(im)
    if fmt == "png":
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    fp = io.BytesIO(data)
    ds = pydicom.dcmread(fp, stop_before_pixels=True)
    at = fp.tell() + 12  # explicit VR little endian: tag, VR, 2 reserved bytes, 4-byte length
    return np.frombuffer(data, "<u2", count=int(ds.Rows) * int(ds.Columns), offset=at).reshape(ds.Rows, ds.Columns)


def run_floor(root: Path, names: list[str], fmt: str, size: int) -> dict:
    floor_one(root / names[0], fmt, size)
    start = time.perf_counter()
    for n in names:
        floor_one(root / n, fmt, size)
    return {"seconds": time.perf_counter() - start}


def _child(args: argparse.Namespace) -> None:
    if args.pin:  # one core: the process and every library thread it starts
        import cv2

        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
        cv2.setNumThreads(1)
    names = json.loads(Path(args.names).read_text())
    root, out = Path(args.root), Path(args.out) if args.out else None
    if args.child == "reference":
        res = run_reference(root, names, args.fmt, args.size, out)
    elif args.child == "floor":
        res = run_floor(root, names, args.fmt, args.size)
    else:
        res = run_ours(root, names, args.size, args.workers, args.recipe, out)
    print(json.dumps(res))


def measured(cmd: list[str]) -> tuple[dict, float]:
    """Run ``cmd``; return its JSON result and the peak memory (MiB, PSS) of its whole process tree."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": _pythonpath()})
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            parent = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        tree, listed = [parent], 0.0
        while not stop.is_set():
            total = 0
            try:
                if time.monotonic() - listed > 0.5:  # listing /proc is the costly part: not every tick
                    tree, listed = [parent, *parent.children(recursive=True)], time.monotonic()
                for p in tree:
                    try:  # PSS: pages shared with the forkserver or each other are split, not double-counted
                        total += p.memory_full_info().pss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
            except psutil.NoSuchProcess:
                break
            peak = max(peak, total)
            stop.wait(0.05)  # sparse: the sampler must not steal CPU from a 2-core run

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return json.loads(stdout.strip().splitlines()[-1]), peak / 2**20


def _pythonpath() -> str:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)


def compare(ours: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: share of identical pixels, mean absolute difference (gray levels), Pearson correlation."""
    a = ours.reshape(len(ours), -1).astype(np.float64)
    b = ref.reshape(len(ref), -1).astype(np.float64)
    same = (a == b).mean(axis=1)
    mad = np.abs(a - b).mean(axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    r = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return same, mad, r


def _stored(store_dir: Path, size: int, names: list[str]) -> np.ndarray:
    from cxrinit.imaging import PixelStore

    store = PixelStore(store_dir / str(size))
    return store.gather(store.row_of(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=48, help="images per format")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=None, help="ours, default case: worker processes "
                                                                  "(default: all cores, as build_store)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--keep", help="generate into this folder and keep it (default: a temp dir)")
    parser.add_argument("--child", choices=("reference", "ours", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--pin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--recipe", choices=("paper", "default"), default="default", help=argparse.SUPPRESS)
    for hidden in ("--fmt", "--root", "--names", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.workers = args.workers or 1
        return _child(args)

    formats = [f for f in args.formats.split(",") if f]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or args.n < 3:
        parser.error(f"formats must be among {FORMATS} (got {unknown}) and --n >= 3")
    tmp = tempfile.TemporaryDirectory(prefix="cxrinit-bench-") if not args.keep else None
    base = Path(args.keep or tmp.name)
    from cxrinit.imaging.store import usable_cores

    cores = usable_cores()
    args.workers = args.workers or cores
    print(f"{args.n} images per format, output {args.size}x{args.size}, {cores} usable cores, ours by default with "
          f"{args.workers} workers; files in {base}", flush=True)
    totals = dict.fromkeys(("study_1", "paper_1", "study", "default_n"), 0.0)
    like, default, floor = [], [], []
    for fmt in formats:
        root = base / fmt
        t0 = time.perf_counter()
        names = generate(fmt, args.n, root, seed=FORMATS.index(fmt))
        os.sync()  # flush the fresh files now, or our store's fsyncs would pay for writing them
        h, w = SHAPES[fmt]
        print(f"generated {args.n} {fmt} files {h}x{w} in {time.perf_counter() - t0:.1f} s", flush=True)
        names_file = base / f"{fmt}_names.json"
        names_file.write_text(json.dumps(names))
        common = [sys.executable, __file__, "--fmt", fmt, "--root", str(root), "--names", str(names_file),
                  "--size", str(args.size)]
        runs: dict[str, tuple[dict, float]] = {}
        cases = {
            "study_1": ["--child", "reference", "--pin", "--out", str(base / f"{fmt}_study_1.npy")],
            "study": ["--child", "reference", "--out", str(base / f"{fmt}_study.npy")],
            "paper_1": ["--child", "ours", "--recipe", "paper", "--pin", "--out", str(base / f"{fmt}_paper_1")],
            "default_1": ["--child", "ours", "--pin", "--out", str(base / f"{fmt}_default_1")],
            "default_n": ["--child", "ours", "--workers", str(args.workers), "--out", str(base / f"{fmt}_default_n")],
            "floor": ["--child", "floor", "--pin"],
        }
        for case, extra in cases.items():
            runs[case] = measured([*common, *extra])
        t = {case: res["seconds"] for case, (res, _) in runs.items()}
        mem = {case: m for case, (_, m) in runs.items()}
        for key in totals:
            totals[key] += t[key]
        study = np.load(base / f"{fmt}_study_1.npy")
        if not np.array_equal(study, np.load(base / f"{fmt}_study.npy")):
            raise SystemExit(f"{fmt}: the study's output differs between its two runs")
        same, mad, _ = compare(_stored(base / f"{fmt}_paper_1", args.size, names), study)
        _, dmad, r = compare(_stored(base / f"{fmt}_default_n", args.size, names), study)
        if not np.array_equal(_stored(base / f"{fmt}_default_1", args.size, names),
                              _stored(base / f"{fmt}_default_n", args.size, names)):
            raise SystemExit(f"{fmt}: ours gives other pixels on 1 and on {args.workers} workers")
        ms = {case: 1000 * sec / args.n for case, sec in t.items()}
        like.append(f"{fmt:<7}{ms['study_1']:>10.1f}{ms['paper_1']:>10.1f}{t['study_1'] / t['paper_1']:>8.2f}x"
                    f"{100 * same.mean():>10.2f}%{100 * same.min():>9.2f}%{mad.mean():>7.3f}{mad.max():>7.3f}"
                    f"{mem['study_1']:>8.0f}{mem['paper_1']:>8.0f}")
        default.append(f"{fmt:<7}{args.n / t['study']:>10.1f}{args.n / t['default_1']:>10.1f}"
                       f"{args.n / t['default_n']:>10.1f}{t['study'] / t['default_n']:>8.1f}x"
                       f"{dmad.mean():>7.2f}{r.mean():>8.4f}{r.min():>8.4f}{mem['study']:>8.0f}{mem['default_n']:>8.0f}")
        floor.append(f"{fmt:<7}{DECODERS[fmt]:<32}{ms['floor']:>9.1f}{ms['default_1']:>9.1f}"
                     f"{ms['default_1'] / ms['floor']:>8.2f}x{ms['default_1'] - ms['floor']:>9.1f}")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{fmt}: " + ", ".join(f"{case} {sec:.2f} s" for case, sec in t.items())
              + f" (1-min load average {load:.1f}: other work on the cores costs the all-core runs most)", flush=True)
    print(f"\nlike-for-like: the study's script and ours with Recipe.paper() (same recipe and output), one core each")
    print(f"{'format':<7}{'study':>10}{'ours':>10}{'ratio':>9}{'same px':>11}{'worst':>10}{'MAD':>7}{'max':>7}"
          f"{'MiB st':>8}{'MiB us':>8}")
    print(f"{'':<7}{'ms/img':>10}{'ms/img':>10}")
    print("\n".join(like))
    print(f"\ndefault: the study's script (one process) against ours with the default Recipe "
          f"(1 core, and {args.workers} workers = the default)")
    print(f"{'format':<7}{'study':>10}{'ours 1c':>10}{'ours':>10}{'ratio':>9}{'MAD':>7}{'r mean':>8}{'r min':>8}"
          f"{'MiB st':>8}{'MiB us':>8}")
    print(f"{'':<7}{'img/s':>10}{'img/s':>10}{'img/s':>10}")
    print("\n".join(default))
    print("\nper core: ours with the default Recipe (whole per-image work: read, hash, decode, resize, store) "
          "against the decode-only floor of its decoder (read + decode, the same files), one core each")
    print(f"{'format':<7}{'decoder':<32}{'floor':>9}{'ours':>9}{'ratio':>9}{'gap':>9}")
    print(f"{'':<7}{'':<32}{'ms/img':>9}{'ms/img':>9}{'':>9}{'ms/img':>9}")
    print("\n".join(floor))
    if tmp is not None:
        tmp.cleanup()
    print(f"\nlike-for-like: {totals['study_1'] / totals['paper_1']:.2f}x "
          "(the study's recipe, one core each; total study time / total our time)")
    print(f"speedup: {totals['study'] / totals['default_n']:.1f}x (default: our default Recipe on {args.workers} "
          "workers against the study's script)")


if __name__ == "__main__":
    main()
