"""Preprocessing benchmark: our pixel store vs the study's recipe, on the same full-size files.

    PYTHONPATH=src python benchmarks/preprocess.py [--n 48] [--size 224] [--workers N] [--formats jpeg,png,dicom]

Generates chest-like inputs in a temp dir: 3000x2500 8-bit JPEG (MIMIC/CheXpert), 2048x2048
16-bit PNG (PadChest), 3000x3000 14-bit DICOM, half MONOCHROME1, with a window covering the data
(VinDr). Then, per format, each side runs in its own subprocess (so its peak memory, sampled over
the whole process tree, is its own):

* reference: one process, per image: OpenCV imread (IMREAD_GRAYSCALE) or pydicom pixel_array,
  scipy.ndimage.zoom(order=2) to size x size, min-max to uint8, MONOCHROME1 inverted,
  cv2.equalizeHist;
* ours: build_store (default Recipe, all cores). Its process pool is started once by a 2-image
  warm-up before the clock starts, as the reference runs with its libraries already imported.

Prints images/s of both, the ratio, peak memory (proportional set size of the whole process tree,
sampled every 50 ms), and per image the mean absolute difference and
the Pearson correlation of the two outputs (mean and worst over images). The last line is
``speedup: <total reference time / total our time>x``.
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


# --- the two sides, each run in a subprocess --------------------------------------------------------


def reference_one(path: Path, fmt: str, size: int) -> np.ndarray:
    """The study's recipe for one file (see the module docstring)."""
    import cv2
    import pydicom
    from scipy import ndimage

    inverted = False
    if fmt == "dicom":
        ds = pydicom.dcmread(path)
        img = ds.pixel_array
        inverted = ds.PhotometricInterpretation == "MONOCHROME1"
    else:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    img = ndimage.zoom(img, (size / img.shape[0], size / img.shape[1]), order=2)
    img = img.astype(np.float64)
    img = (img - img.min()) / (img.max() - img.min())
    img = (img * 255).astype(np.uint8)
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


def run_ours(root: Path, names: list[str], size: int, workers: int, out: Path) -> dict:
    import pandas as pd

    from cxrinit.imaging import build_store

    warm = pd.DataFrame({"image_id": names[:2], "path": names[:2]})
    build_store(warm, root, out.with_name(out.name + "_warmup"), sizes=(size,), workers=workers, overwrite=True)
    items = pd.DataFrame({"image_id": names, "path": names})
    start = time.perf_counter()
    index = build_store(items, root, out, sizes=(size,), workers=workers)
    elapsed = time.perf_counter() - start
    bad = index[index["status"] != "ok"]
    if len(bad):
        shown = bad[["image_id", "status", "detail"]].head()
        raise SystemExit(f"ours quarantined {len(bad)} benchmark images:\n{shown}")
    return {"seconds": elapsed}


def _child(args: argparse.Namespace) -> None:
    names = json.loads(Path(args.names).read_text())
    root, out = Path(args.root), Path(args.out)
    if args.child == "reference":
        res = run_reference(root, names, args.fmt, args.size, out)
    else:
        res = run_ours(root, names, args.size, args.workers, out)
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


def compare(ours: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: mean absolute difference (gray levels) and Pearson correlation."""
    a = ours.reshape(len(ours), -1).astype(np.float64)
    b = ref.reshape(len(ref), -1).astype(np.float64)
    mad = np.abs(a - b).mean(axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    r = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return mad, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=48, help="images per format")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=None, help="ours: worker processes (default: all cores)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--keep", help="generate into this folder and keep it (default: a temp dir)")
    parser.add_argument("--child", choices=("reference", "ours"), help=argparse.SUPPRESS)
    for hidden in ("--fmt", "--root", "--names", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args)

    formats = [f for f in args.formats.split(",") if f]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or args.n < 3:
        parser.error(f"formats must be among {FORMATS} (got {unknown}) and --n >= 3")
    tmp = tempfile.TemporaryDirectory(prefix="cxrinit-bench-") if not args.keep else None
    base = Path(args.keep or tmp.name)
    from cxrinit.imaging.store import usable_cores

    args.workers = args.workers or usable_cores()
    print(f"{args.n} images per format, output {args.size}x{args.size}, ours with {args.workers} workers, "
          f"{usable_cores()} usable cores; files in {base}", flush=True)
    totals = {"reference": 0.0, "ours": 0.0}
    header = (f"{'format':<7}{'ref img/s':>10}{'ours img/s':>11}{'ratio':>8}{'ref MiB':>9}{'ours MiB':>9}"
              f"{'MAD mean':>9}{'MAD max':>8}{'r mean':>8}{'r min':>7}")
    rows = []
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
                  "--size", str(args.size), "--workers", str(args.workers)]
        ref_out = base / f"{fmt}_reference.npy"
        ref, ref_mem = measured([*common, "--child", "reference", "--out", str(ref_out)])
        ours_out = base / f"{fmt}_store"
        ours, ours_mem = measured([*common, "--child", "ours", "--out", str(ours_out)])
        from cxrinit.imaging import PixelStore

        store = PixelStore(ours_out / str(args.size))
        mad, r = compare(store.gather(store.row_of(names)), np.load(ref_out))
        totals["reference"] += ref["seconds"]
        totals["ours"] += ours["seconds"]
        ratio = ref["seconds"] / ours["seconds"]
        rows.append(f"{fmt:<7}{args.n / ref['seconds']:>10.1f}{args.n / ours['seconds']:>11.1f}{ratio:>7.1f}x"
                    f"{ref_mem:>9.0f}{ours_mem:>9.0f}{mad.mean():>9.2f}{mad.max():>8.2f}"
                    f"{r.mean():>8.4f}{r.min():>7.4f}")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{fmt}: reference {ref['seconds']:.2f} s, ours {ours['seconds']:.2f} s "
              f"(1-min load average {load:.1f}: other work on the cores costs ours, not the 1-core reference)",
              flush=True)
    print(header)
    print("\n".join(rows))
    if tmp is not None:
        tmp.cleanup()
    print(f"speedup: {totals['reference'] / totals['ours']:.1f}x")


if __name__ == "__main__":
    main()
