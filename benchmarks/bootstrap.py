"""Benchmark: vectorized paired-bootstrap AUROC vs sklearn's roc_auc_score per resample and finding.

Both sides use the very same resamples: ours reads them as count vectors, the baseline as explicit
index arrays (``np.repeat`` of the counts). Scores are rounded so ties are everywhere; 5% of labels
are NaN (masked on both sides). Prints both times, the ratios and the largest AUROC difference.

Two settings: like-for-like, one core each (the process pinned to one core, BLAS/OpenMP pools at one
thread) and default (ours as it runs, all cores). sklearn's baseline runs once, pinned: it is
single-threaded either way. The last line, ``speedup: <ratio>x``, is the default setting's.

    PYTHONPATH=src python benchmarks/bootstrap.py                      # full size, a few minutes
    PYTHONPATH=src python benchmarks/bootstrap.py --baseline-resamples 50   # baseline extrapolated
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from cxrinit.evaluation.bootstrap import resample_metrics, val_thresholds
from cxrinit.evaluation.predictions import AlignedSplit
from cxrinit.evaluation.resampling import draw_resamples


def make_split(n: int, n_findings: int, n_models: int, decimals: int, seed: int) -> AlignedSplit:
    """Synthetic test set: per-finding prevalence 2-40%, scores rounded to ``decimals``, 5% NaN labels."""
    rng = np.random.default_rng(seed)
    prevalence = np.linspace(0.02, 0.4, n_findings)
    labels = (rng.random((n, n_findings)) < prevalence).astype(float)
    scores = {}
    for m in range(n_models):
        logit = rng.normal(size=(n, n_findings)) + (0.8 + 0.3 * m) * labels - 1.0
        scores[f"model{m}"] = np.round(1 / (1 + np.exp(-logit)), decimals)
    labels[rng.random(labels.shape) < 0.05] = np.nan
    findings = tuple(f"finding{j}" for j in range(n_findings))
    return AlignedSplit(source="bench", split="test", image_ids=np.arange(n).astype(str),
                        patient_ids=np.arange(n).astype(str), findings=findings, labels=labels, scores=scores,
                        has=dict.fromkeys(scores, findings))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=30_000)
    ap.add_argument("--findings", type=int, default=10)
    ap.add_argument("--resamples", type=int, default=1_000)
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--decimals", type=int, default=3, help="scores rounded to this many decimals (ties)")
    ap.add_argument("--chunk-size", type=int, default=100)
    ap.add_argument("--baseline-resamples", type=int, default=None,
                    help="resamples the sklearn baseline runs (default: all); fewer are extrapolated")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n_base = args.resamples if args.baseline_resamples is None else min(args.baseline_resamples, args.resamples)

    test = make_split(args.images, args.findings, args.models, args.decimals, args.seed)
    res = draw_resamples(args.images, n_resamples=args.resamples, seed=args.seed, source="bench")
    n_auc = args.models * args.findings * args.resamples
    print(f"{args.images} images x {args.findings} findings x {args.resamples} resamples x {args.models} models, "
          f"scores rounded to {args.decimals} decimals ({len(np.unique(test.scores['model0']))} distinct)")

    resample_metrics(test, draw_resamples(args.images, n_resamples=2, seed=args.seed, source="bench"),
                     metrics=("auroc",), chunk_size=args.chunk_size)  # warm-up: imports, first calls
    t0 = time.perf_counter()
    ours = resample_metrics(test, res, metrics=("auroc",), chunk_size=args.chunk_size)["auroc"]
    t_ours = time.perf_counter() - t0
    print(f"ours:     {t_ours:.2f} s for {n_auc} resampled AUROCs, drawing the resamples included "
          f"({n_auc / t_ours:,.0f} AUROCs/s), all {len(os.sched_getaffinity(0))} cores")
    with one_core():
        t0 = time.perf_counter()
        resample_metrics(test, res, metrics=("auroc",), chunk_size=args.chunk_size)
        t_ours_1 = time.perf_counter() - t0
    print(f"ours:     {t_ours_1:.2f} s on one core")

    # Everything the evaluation computes (AUROC + 4 metrics at a fixed threshold), for reference.
    thresholds = val_thresholds(test)
    t0 = time.perf_counter()
    resample_metrics(test, res, thresholds=thresholds, chunk_size=args.chunk_size)
    print(f"ours, AUROC + accuracy/sensitivity/specificity/F1 at fixed thresholds: {time.perf_counter() - t0:.2f} s")

    tracemalloc.start()
    resample_metrics(test, res, metrics=("auroc",), chunk_size=args.chunk_size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"ours, peak traced memory (chunk size {args.chunk_size}): {peak / 2**20:.1f} MiB; "
          f"process max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")

    counts = res.counts(0, n_base)
    inits = list(test.scores)
    base = np.full((len(inits), args.findings, n_base), np.nan)
    with one_core():
        t0 = time.perf_counter()
        for b in tqdm(range(n_base), desc="sklearn baseline", unit="resample", disable=None):
            idx = np.repeat(np.arange(args.images), counts[b])
            y_all = test.labels[idx]
            for f in range(args.findings):
                y = y_all[:, f]
                keep = ~np.isnan(y)
                y = y[keep]
                if 0 < y.sum() < len(y):
                    for m, init in enumerate(inits):
                        base[m, f, b] = roc_auc_score(y, test.scores[init][idx[keep], f])
        t_base_run = time.perf_counter() - t0
    t_base = t_base_run * args.resamples / n_base
    if n_base < args.resamples:
        print(f"sklearn:  {t_base_run:.2f} s measured on {n_base} of {args.resamples} resamples, "
              f"extrapolated linearly to {t_base:.1f} s for all {args.resamples}")
    else:
        print(f"sklearn:  {t_base:.2f} s for {n_auc} AUROCs ({n_auc / t_base:,.0f} AUROCs/s)")
    diff = np.abs(ours[:, :, :n_base] - base)
    both_nan = np.isnan(ours[:, :, :n_base]) & np.isnan(base)
    mismatch = int((np.isnan(ours[:, :, :n_base]) != np.isnan(base)).sum())
    print(f"largest absolute AUROC difference over {n_base} compared resamples: {np.nanmax(diff):.3e} "
          f"({int(both_nan.sum())} undefined on both sides, {mismatch} defined on one side only)")
    print(f"\n{'setting':<40}{'sklearn s':>10}{'ours s':>9}{'ratio':>8}")
    print(f"{'like-for-like (one core each)':<40}{t_base:>10.1f}{t_ours_1:>9.2f}{t_base / t_ours_1:>7.1f}x")
    print(f"{'default (ours on all cores)':<40}{t_base:>10.1f}{t_ours:>9.2f}{t_base / t_ours:>7.1f}x")
    print(f"like-for-like: {t_base / t_ours_1:.1f}x (sklearn / ours, one core each)")
    print(f"speedup: {t_base / t_ours:.1f}x (default: ours as it runs against sklearn per resample)")


@contextmanager
def one_core() -> Iterator[None]:
    """This process on one core, its BLAS/OpenMP pools at one thread."""
    from threadpoolctl import threadpool_limits

    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(cores)})
    try:
        with threadpool_limits(1):
            yield
    finally:
        os.sched_setaffinity(0, cores)


if __name__ == "__main__":
    main()
