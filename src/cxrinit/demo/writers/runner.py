"""Execute a plan: encode every image (in parallel when asked), then write the metadata.

Workers only compute bytes; the parent writes every file, in plan order, so the tree is the
same whatever the worker count.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers.acquisition import Renderer, truncate
from cxrinit.demo.writers.common import BROKEN_KINDS, PLAN_COLUMNS

logger = logging.getLogger(__name__)

#: ``encode(row, spec, render) -> bytes``: the file for one plan row. It sees ``row["broken"]``
#: and must itself produce ``wrong_format`` and ``no_pixel_data`` files; the runner handles
#: ``missing``, ``zero_bytes`` and ``truncated``.
Encoder = Callable[[dict, ImageSpec, Renderer], bytes]


def check_inputs(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, dataset: str,
                 kinds: Sequence[str]) -> Path:
    """Validate a plan against its specs and the target root; returns the resolved root."""
    missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
    if missing:
        raise ValueError(f"{dataset}: plan lacks columns {missing}; build it with {dataset}.plan()")
    bad = plan.index[(plan["spec_index"] < 0) | (plan["spec_index"] >= len(specs))]
    if len(bad):
        raise ValueError(f"{dataset}: plan row {bad[0]} has spec_index {plan.at[bad[0], 'spec_index']}, "
                         f"but only {len(specs)} specs were given; pass the specs the plan was made from")
    wrong = set(plan["broken"]) - {""} - set(kinds)
    if wrong:
        raise ValueError(f"{dataset}: plan has broken kinds {sorted(wrong)} this dataset cannot produce "
                         f"(it makes {', '.join(kinds)}); known kinds: {', '.join(BROKEN_KINDS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{dataset}: output root {root} does not exist; create an empty directory first")
    if any(root.iterdir()):
        raise FileExistsError(f"{dataset}: output root {root} is not empty; the demo writes into an empty directory")
    return root


def _job(task: tuple[Encoder, Renderer, dict, ImageSpec]) -> bytes | None:
    encode, render, row, spec = task
    kind = row["broken"]
    if kind == "missing":
        return None
    if kind == "zero_bytes":
        return b""
    data = encode(row, spec, render)
    if kind == "truncated":
        data = truncate(data, int(row["pixel_seed"]) + 1)
    return data


def _results(tasks: list, workers: int) -> Iterator[bytes | None]:
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_job, tasks)
        return
    chunk = max(1, len(tasks) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_job, tasks, chunksize=chunk)


def write_images(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer,
                 encode: Encoder, workers: int, dataset: str) -> None:
    """Encode and write every planned image under ``root``; log images/s."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    rows = plan.to_dict("records")
    tasks = [(encode, render, row, specs[int(row["spec_index"])]) for row in rows]
    t0 = time.perf_counter()
    n_bytes = 0
    bar = tqdm(total=len(tasks), desc=f"demo {dataset}", unit="img", disable=None)
    for row, data in zip(rows, _results(tasks, workers)):
        if data is not None:
            put(root, row["path"], data)
            n_bytes += len(data)
        bar.update(1)
    bar.close()
    dt = max(time.perf_counter() - t0, 1e-9)
    logger.info("%s: %d images (%.1f MB) in %.1f s with %d worker(s): %.1f images/s",
                dataset, len(tasks), n_bytes / 1e6, dt, workers, len(tasks) / dt)


def put(root: Path, relpath: str, data: bytes) -> None:
    """Write ``data`` at ``root/relpath`` (posix), creating folders."""
    path = root.joinpath(*relpath.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def csv_bytes(df: pd.DataFrame, float_format: str | None = None) -> bytes:
    """CSV with a header, no index, ``\\n`` line ends; blanks stay empty cells."""
    return df.to_csv(index=False, lineterminator="\n", float_format=float_format).encode("utf-8")


def gz_bytes(data: bytes) -> bytes:
    """Gzip with a zero timestamp and no file name, so equal data gives equal bytes."""
    return gzip.compress(data, compresslevel=6, mtime=0)
