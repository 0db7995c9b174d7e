"""Training-batch throughput: our loader (memory-mapped uint8 store, batched on-device augmentation) vs the study's
(per-item DataFrame lookup, cv2.imread of a JPEG, PIL flip + RandomRotation(7), ToTensor, torch DataLoader) on the
same images, with the same batch size. Both produce augmented (B, 3, S, S) float batches in [0, 1]. One full epoch
each, after one warm-up epoch (which also pays torch.compile's one-off compilation, printed apart).

    python benchmarks/loader.py --n 2000 --workers 2          # last line: speedup: <ratio>x

Two settings, each printed with its ratios:

* like-for-like, one core each: the process pinned to one core, the study's DataLoader in the process
  (``num_workers=0``), ours with one torch thread;
* default, all cores: the study's DataLoader with ``--workers`` worker processes, ours with torch's default
  threads (``--threads`` overrides), on the device ``--device`` picks.

Ours runs eager and, with ``--compile auto|on``, fused by torch.compile (the training option ``compile: true``).
The last line, ``speedup:``, is the default configuration's: all cores, and the pipeline the training option
``compile`` gives by default (``TrainConfig.preset("default").compile``: eager; docs/training.md says why).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from cxrinit.models import InputContract
from cxrinit.training import TrainConfig
from cxrinit.training.augment import AugmentConfig
from cxrinit.training.data import ArrayStore, assemble_split
from cxrinit.training.loader import BatchLoader, InputPipeline
from cxrinit.training.sampler import EpochSampler

FINDINGS = [f"finding_{i}" for i in range(10)]


def synthesize(root: Path, n: int, size: int, seed: int = 0) -> tuple[pd.DataFrame, ArrayStore]:
    """``n`` smooth gray images as JPEGs (for the baseline) and as a uint8 store (for ours), plus labels."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(root / "images.npy", mode="w+", dtype=np.uint8, shape=(n, size, size))
    yy, xx = np.mgrid[0:size, 0:size] / size
    ids = [f"img{i:05d}" for i in range(n)]
    for i in range(n):
        a, b, c = rng.random(3)
        img = 127 + 60 * np.sin(6 * a * xx + 4 * b * yy) + 40 * np.cos(9 * c * xx * yy) + rng.normal(0, 8, (size, size))
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / f"{ids[i]}.jpg"), images[i], [cv2.IMWRITE_JPEG_QUALITY, 95])
    images.flush()
    del images
    labels = pd.DataFrame((rng.random((n, len(FINDINGS))) < 0.3).astype(np.float32), columns=FINDINGS)
    labels.insert(0, "image_id", ids)
    pd.DataFrame({"image_id": ids, "row": np.arange(n), "status": "ok"}).to_parquet(root / "index.parquet")
    return labels, ArrayStore.from_dir(root)


class StudyDataset(Dataset):
    """The reference scripts' per-item path: scan the table for the row, decode the JPEG, PIL transforms."""

    def __init__(self, root: Path, labels: pd.DataFrame) -> None:
        self.root, self.df, self.ids = root, labels, labels["image_id"].tolist()
        self.transform = transforms.Compose([transforms.ToPILImage(), transforms.RandomHorizontalFlip(p=0.5),
                                             transforms.RandomRotation(degrees=7), transforms.ToTensor()])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_id = self.ids[idx]
        row = self.df[self.df["image_id"] == image_id]  # O(N) per item, as the study
        img = cv2.imread(str(self.root / f"{image_id}.jpg"))  # 3-channel BGR, as cv2 defaults
        label = torch.tensor(row[FINDINGS].to_numpy()[0], dtype=torch.float32)
        return self.transform(img), label


def epoch_study(loader: DataLoader) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    for x, _ in loader:
        n += len(x)
    return n, time.perf_counter() - start


def epoch_ours(store: ArrayStore, rows: np.ndarray, labels: np.ndarray, batch: int, epoch: int,
               pipeline: InputPipeline) -> tuple[int, float]:
    sampler = EpochSampler(len(rows), batch, seed=0)
    sampler.set_epoch(epoch)
    generator = torch.Generator().manual_seed(epoch)
    device = pipeline.device
    start, n = time.perf_counter(), 0
    for b in BatchLoader(store.images, rows, labels, sampler, pin_memory=device.type == "cuda"):
        x = pipeline(b.images, generator)
        b.labels.to(device, non_blocking=True)
        n += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return n, time.perf_counter() - start


@contextmanager
def one_core(on: bool) -> Iterator[None]:
    """Pin this process (and the threads it starts) to one core and torch to one thread, or leave both alone."""
    if not on:
        yield
        return
    cores, threads = os.sched_getaffinity(0), torch.get_num_threads()
    os.sched_setaffinity(0, {max(cores)})
    torch.set_num_threads(1)
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)
        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the study's loader, default case")
    parser.add_argument("--device", default="auto", help="where our augmentation runs (auto: CUDA if present)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="also measure our pipeline fused by torch.compile (auto: skip if it cannot compile)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads for ours, default case (0: torch's default)")
    parser.add_argument("--dir", type=Path, help="working directory (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    default_compiled = TrainConfig.preset("default").compile
    default_name = "ours (compiled)" if default_compiled else "ours (eager)"
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        t = time.perf_counter()
        labels, store = synthesize(root, args.n, args.size)
        print(f"wrote {args.n} images of {args.size} px (JPEG + store) in {time.perf_counter() - t:.1f} s")
        splits = pd.DataFrame({"image_id": labels["image_id"], "patient_id": labels["image_id"], "split": "train"})
        train = assemble_split(store, labels, splits, "train")
        # the study's input: [0, 1] gray-as-RGB, no normalization; its rotation is torchvision's (nearest)
        contract = InputContract(3, args.size, (0.0,) * 3, (1.0,) * 3, "paper")
        aug = AugmentConfig(flip_p=0.5, rotate_deg=7.0, interpolation="nearest")
        if args.threads:
            torch.set_num_threads(args.threads)
        modes = {"ours (eager)": False, **({"ours (compiled)": True} if args.compile != "off" else {})}
        settings = {  # name: (one core?, the study's DataLoader workers, our device)
            "default": (False, args.workers, device),
            "like-for-like": (True, 0, torch.device("cpu")),
        }
        results: dict[str, dict[str, float]] = {}
        warmups: dict[str, dict[str, float]] = {}
        threads: dict[str, int] = {}
        for setting, (pinned, workers, where) in settings.items():
            study = DataLoader(StudyDataset(root, labels), batch_size=args.batch_size, shuffle=True,
                               num_workers=workers)
            runs = {"study": lambda e, loader=study: epoch_study(loader)}
            for name, compiled in modes.items():
                pipeline = InputPipeline(contract, where, aug, compile=compiled)
                runs[name] = lambda e, p=pipeline: epoch_ours(store, train.rows, train.labels, args.batch_size, e, p)
            results[setting], warmups[setting] = {}, {}
            with one_core(pinned):
                threads[setting] = torch.get_num_threads()
                for name, run in runs.items():
                    start = time.perf_counter()
                    try:
                        run(0)  # warm-up: page cache, worker start-up, allocator, compilation
                    except Exception as err:  # noqa: BLE001 - no compiler here: report and go on with eager
                        if args.compile == "on" or "compiled" not in name:
                            raise
                        print(f"{name}: skipped, torch.compile failed ({type(err).__name__}: "
                              f"{str(err).splitlines()[0]})")
                        continue
                    warmups[setting][name] = time.perf_counter() - start
                    n, seconds = run(1)
                    results[setting][name] = n / seconds
                    print(f"{setting:>13} {name:>16}: {n} images in {seconds:.2f} s = {results[setting][name]:.0f} "
                          f"images/s (warm-up epoch {warmups[setting][name]:.1f} s)", flush=True)
        for setting, (pinned, workers, where) in settings.items():
            study_how = "in the process (num_workers=0)" if not workers else f"with {workers} DataLoader workers"
            where_how = f"ours on {where}, torch threads {threads[setting]}"
            scope = "one core each" if pinned else f"all {len(os.sched_getaffinity(0))} cores"
            print(f"\n{setting}: the study's loader {study_how}, {where_how}; {scope}")
            print(f"{'':>16}{'images/s':>10}{'ratio':>8}{'warm-up s':>11}")
            for name, rate in results[setting].items():
                ratio = "" if name == "study" else f"{rate / results[setting]['study']:.1f}x"
                print(f"{name:>16}{rate:>10.0f}{ratio:>8}{warmups[setting][name]:>11.1f}")
        compiled = results["default"].get("ours (compiled)")
        if compiled:
            eager = results["default"]["ours (eager)"]
            extra = warmups["default"]["ours (compiled)"] - warmups["default"]["ours (eager)"]
            saved = 1 / eager - 1 / compiled  # seconds per image
            even = f"break-even after ~{extra / saved:,.0f} images" if saved > 0 else "never breaks even"
            cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR", "the default compiler cache")
            print(f"\ntorch.compile: {compiled / eager:.2f}x eager's rate once compiled; its first epoch takes "
                  f"{extra:.1f} s more (compilation, with {cache} as found: an empty TORCHINDUCTOR_CACHE_DIR "
                  f"measures a first run): {even}, in every process that trains")
        print(f"ours by default: {default_name.split()[-1].strip('()')} (training option compile: "
              f"{str(default_compiled).lower()}; docs/training.md)")
        like = results["like-for-like"]
        print(f"like-for-like: {like[default_name] / like['study']:.1f}x (ours by default against the study's loader, "
              "one core each)")
        print(f"speedup: {results['default'][default_name] / results['default']['study']:.1f}x (default: ours by "
              f"default on {device} against the study's loader with {args.workers} workers)")


if __name__ == "__main__":
    main()
