"""Paired bootstrap of every metric, for every model on one source, vectorized over resamples.

Thresholds (``threshold=``):

* ``"val_youden"`` (default): Youden's J fitted once per (model, finding) on the validation split,
  then applied unchanged to the test set and to every test resample.
* ``"test_youden_per_resample"`` (the study's rule, a defect kept for the ``paper`` preset): J
  re-fitted on the full test set for the point estimate and on each test resample. With
  ``strict_threshold=True`` the chosen score itself counts as negative, as the study's
  ``score > threshold`` does; default is ``score >= threshold`` (``roc_curve``'s convention).

The mean over findings (finding ``"mean"``) of one resample averages the findings defined in it
(both classes present) and is NaN when none is. Summary statistics are over the resamples where
the metric is defined; ``n_defined`` says how many.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .metrics import METRICS, TieGroups, counts_matrix, evaluate_counts, tie_groups
from .predictions import MEAN, AlignedSplit, align_split
from .resampling import Resamples, draw_resamples

log = logging.getLogger(__name__)

THRESHOLD_RULES = ("val_youden", "test_youden_per_resample")


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over defined values; NaN (without a warning) where none is."""
    n = (~np.isnan(x)).sum(axis=axis)
    s = np.nansum(x, axis=axis)
    return np.divide(s, n, out=np.full(s.shape, np.nan), where=n > 0)


def _groups(split: AlignedSplit) -> dict[tuple[int, int], TieGroups]:
    out = {}
    for m, init in enumerate(split.inits):
        for f, finding in enumerate(split.findings):
            if finding in split.has[init]:
                out[m, f] = tie_groups(split.scores[init][:, f], split.labels[:, f])
    return out


def val_thresholds(val: AlignedSplit) -> dict[str, np.ndarray]:
    """Youden threshold per init and finding on the validation split (NaN: a single class there)."""
    if val.n_images == 0:
        raise ValueError(f"source {val.source!r}: no 'val' rows in the predictions; threshold='val_youden' needs"
                         " validation predictions (or use threshold='test_youden_per_resample')")
    out = {init: np.full(len(val.findings), np.nan) for init in val.inits}
    single: dict[str, str] = {}
    for (m, f), g in _groups(val).items():
        out[val.inits[m]][f] = g.youden()
        if np.isnan(out[val.inits[m]][f]):
            single[val.findings[f]] = f"{val.findings[f]} ({g.n_pos} pos, {g.n_neg} neg)"
    if single:  # one line per source: the study table's footnotes list them again
        log.warning("source %s: %d finding(s) have a single class in the validation split, so no threshold and "
                    "n/a accuracy, sensitivity and specificity: %s", val.source, len(single), ", ".join(single.values()))
    return out


def _starts(test: AlignedSplit, groups: Mapping[tuple[int, int], TieGroups],
            thresholds: Mapping[str, np.ndarray] | None, strict: bool) -> dict[tuple[int, int], int | None]:
    """Fixed threshold of each (init, finding) as a group index; None = re-fit per resample; -1 = none usable."""
    if thresholds is None:
        return dict.fromkeys(groups)
    out: dict[tuple[int, int], int | None] = {}
    for (m, f), g in groups.items():
        t = thresholds[test.inits[m]][f]
        out[m, f] = -1 if np.isnan(t) else g.start_at(t, strict)
    return out


def _evaluate(g: TieGroups, ct: np.ndarray, start: int | None, strict: bool,
              thresholded: bool) -> dict[str, np.ndarray]:
    if start == -1:  # no usable validation threshold: thresholded metrics stay NaN
        return evaluate_counts(g, ct, thresholded=False)
    return evaluate_counts(g, ct, start=start, strict=strict, thresholded=thresholded)


def resample_metrics(test: AlignedSplit, resamples: Resamples, *, thresholds: Mapping[str, np.ndarray] | None = None,
                     strict_threshold: bool = False, chunk_size: int = 100,
                     metrics: tuple[str, ...] = METRICS) -> dict[str, np.ndarray]:
    """Each metric on each resample: ``{metric: (n_inits, n_findings, n_resamples)}``.

    ``thresholds``: fixed score thresholds per init (from :func:`val_thresholds`); ``None`` re-fits
    Youden on every resample. ``metrics=("auroc",)`` skips the thresholded ones. Memory is about
    ``chunk_size x n_images x 5`` bytes beyond the outputs.
    """
    if resamples.n_images != test.n_images:
        raise ValueError(f"resamples are for {resamples.n_images} images, the test set has {test.n_images}")
    if unknown := set(metrics) - set(METRICS):
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {METRICS}")
    groups = _groups(test)
    starts = _starts(test, groups, thresholds, strict_threshold)
    thresholded = any(k != "auroc" for k in metrics)
    shape = (len(test.inits), len(test.findings), resamples.n_resamples)
    out = {k: np.full(shape, np.nan) for k in metrics}
    t0 = time.perf_counter()
    with tqdm(total=resamples.n_resamples, unit="resample", desc=f"bootstrap {test.source}", disable=None,
              leave=False) as bar:
        for b0, counts in resamples.chunks(chunk_size):
            ct = counts_matrix(counts)
            b1 = b0 + len(counts)
            for (m, f), g in groups.items():
                res = _evaluate(g, ct, starts[m, f], strict_threshold, thresholded)
                for k in metrics:
                    if k in res:
                        out[k][m, f, b0:b1] = res[k]
            bar.update(len(counts))
    dt = time.perf_counter() - t0
    n = len(groups) * resamples.n_resamples
    log.info("bootstrap %s: %d (init, finding) x %d resamples x %d images in %.2f s (%.0f resampled AUROCs/s)",
             test.source, len(groups), resamples.n_resamples, test.n_images, dt, n / max(dt, 1e-9))
    return out


def point_metrics(test: AlignedSplit, *, thresholds: Mapping[str, np.ndarray] | None = None,
                  strict_threshold: bool = False) -> dict[str, np.ndarray]:
    """Metrics on the full test set: ``{metric: (n_inits, n_findings)}`` plus ``"threshold"`` used."""
    groups = _groups(test)
    starts = _starts(test, groups, thresholds, strict_threshold)
    ones = counts_matrix(np.ones((1, test.n_images), np.uint8))
    shape = (len(test.inits), len(test.findings))
    out = {k: np.full(shape, np.nan) for k in (*METRICS, "threshold")}
    for (m, f), g in groups.items():
        for k, v in _evaluate(g, ones, starts[m, f], strict_threshold, True).items():
            out[k][m, f] = v[0]
        out["threshold"][m, f] = g.youden() if thresholds is None else thresholds[test.inits[m]][f]
    return out


def bootstrap_metrics(predictions: Mapping[str, pd.DataFrame], *, source: str, n_resamples: int = 1000,
                      seed: int = 0, cluster: bool = False, threshold: str = "val_youden",
                      strict_threshold: bool = False, chunk_size: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point estimates and bootstrap replicates of every init on one source.

    ``predictions``: init -> predictions table (see :mod:`.predictions`), all on the same images.
    Returns ``(points, replicates)``: ``points`` one row per (init, finding) with the full-test-set
    metrics, the threshold used and the class counts; ``replicates`` one row per (init, finding,
    resample). Both include the finding ``"mean"`` (average over the init's own findings).
    """
    if threshold not in THRESHOLD_RULES:
        raise ValueError(f"threshold must be one of {THRESHOLD_RULES}, got {threshold!r}")
    test = align_split(predictions, "test", source)
    if test.n_images == 0:
        raise ValueError(f"source {source!r}: no 'test' rows in the predictions")
    masked = {f: int(np.isnan(test.labels[:, j]).sum()) for j, f in enumerate(test.findings)}
    log.info("source %s: %d test images, %d inits; unannotated (NaN) labels masked per finding: %s",
             source, test.n_images, len(test.inits), masked)
    thresholds = val_thresholds(align_split(predictions, "val", source)) if threshold == "val_youden" else None
    resamples = draw_resamples(n_resamples=n_resamples, seed=seed, source=source, patient_ids=test.patient_ids,
                               cluster=cluster)
    point = point_metrics(test, thresholds=thresholds, strict_threshold=strict_threshold)
    reps = resample_metrics(test, resamples, thresholds=thresholds, strict_threshold=strict_threshold,
                            chunk_size=chunk_size)
    return points_frame(test, point), replicates_frame(test, reps)


def points_frame(test: AlignedSplit, point: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Tidy point estimates; the ``"mean"`` row averages the init's defined findings (``n_findings``).

    Every row carries the test split's ``n_images`` and ``n_patients``; finding rows their class counts
    (``n_pos``, ``n_neg``, ``n_masked``: unannotated).
    """
    rows = []
    n = {"n_images": test.n_images, "n_patients": int(len(np.unique(test.patient_ids)))}
    undefined: set[str] = set()
    for m, init in enumerate(test.inits):
        own = [test.findings.index(f) for f in test.has[init]]
        for f in own:
            lab = test.labels[:, f]
            rows.append({"source": test.source, "init": init, "finding": test.findings[f],
                         "n_pos": int((lab == 1).sum()), "n_neg": int((lab == 0).sum()),
                         "n_masked": int(np.isnan(lab).sum()), "n_findings": 1, **n,
                         **{k: float(point[k][m, f]) for k in (*METRICS, "threshold")}})
        auc = point["auroc"][m, own]
        undefined |= {test.findings[f] for f, a in zip(own, auc) if np.isnan(a)}
        rows.append({"source": test.source, "init": init, "finding": MEAN, "n_pos": np.nan, "n_neg": np.nan,
                     "n_masked": np.nan, "n_findings": int((~np.isnan(auc)).sum()), **n,
                     **{k: float(_nanmean(point[k][m, own], 0)) for k in METRICS}, "threshold": np.nan})
    if undefined:  # one line per source: the study table's footnotes list them again
        log.warning("source %s: %d finding(s) have a single class in the test split, so an undefined AUROC that "
                    "the means skip: %s", test.source, len(undefined), ", ".join(sorted(undefined)))
    return pd.DataFrame(rows)


def replicates_frame(test: AlignedSplit, reps: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Tidy replicates: one row per (init, finding, resample), the ``"mean"`` finding included."""
    parts = []
    n_res = next(iter(reps.values())).shape[2]
    for m, init in enumerate(test.inits):
        own = [test.findings.index(f) for f in test.has[init]]
        names = [test.findings[f] for f in own] + [MEAN]
        values = {k: np.vstack([v[m, own], _nanmean(v[m, own], 0)[None]]) for k, v in reps.items()}
        parts.append(pd.DataFrame({
            "source": test.source, "init": init, "finding": np.repeat(names, n_res),
            "resample": np.tile(np.arange(n_res), len(names)),
            **{k: v.ravel() for k, v in values.items()}}))
    return pd.concat(parts, ignore_index=True)


def summarize_bootstrap(points: pd.DataFrame, replicates: pd.DataFrame, ci: float = 0.95,
                        keys: tuple[str, ...] = ("source", "init", "finding")) -> pd.DataFrame:
    """Point, mean, SD (ddof=1) and percentile interval of every metric, in long form.

    One row per (``keys``, metric); statistics over the resamples where the metric is defined
    (``n_defined`` of ``n_resamples``), all NaN when it never is. ``ci_level`` carries ``ci`` so that
    every table and figure made from the summary states the interval it shows.
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    keys = list(keys)
    metrics = [k for k in METRICS if k in replicates.columns]
    long = replicates.melt(id_vars=[*keys, "resample"], value_vars=metrics, var_name="metric")
    lo, hi = 100 * (1 - ci) / 2, 100 * (1 + ci) / 2

    def stats(v: pd.Series) -> pd.Series:
        x = v.to_numpy(dtype=float)
        n = len(x)
        x = x[~np.isnan(x)]
        if len(x) == 0:
            return pd.Series({"mean": np.nan, "sd": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_defined": 0,
                              "n_resamples": n})
        return pd.Series({"mean": x.mean(), "sd": x.std(ddof=1) if len(x) > 1 else np.nan,
                          "ci_low": np.percentile(x, lo), "ci_high": np.percentile(x, hi), "n_defined": len(x),
                          "n_resamples": n})

    summary = long.groupby([*keys, "metric"], sort=False)["value"].apply(stats).unstack().reset_index()
    summary[["n_defined", "n_resamples"]] = summary[["n_defined", "n_resamples"]].astype(int)
    point = points.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="point")
    summary = summary.merge(point, on=[*keys, "metric"], how="left")
    summary["ci_level"] = float(ci)
    return summary[[*keys, "metric", "point", "mean", "sd", "ci_low", "ci_high", "ci_level", "n_defined",
                    "n_resamples"]]
