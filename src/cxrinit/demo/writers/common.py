"""Planning helpers shared by the six writers: seeded randomness, ids, splits, broken files.

Everything here is cheap and pixel-free; a plan is a pure function of (specs, seed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from cxrinit.demo.cohort import ImageSpec

logger = logging.getLogger(__name__)

#: How a deliberately broken file is broken.
BROKEN_KINDS: tuple[str, ...] = ("truncated", "zero_bytes", "wrong_format", "no_pixel_data", "missing")

#: Columns every plan has, in this order; writers append their native columns after them.
PLAN_COLUMNS: tuple[str, ...] = (
    "spec_index", "path", "native_id", "patient_id", "study_id", "view", "findings", "broken",
    "broken_detail", "split", "sex", "age", "height", "width", "gamma", "noise", "blur", "lo", "hi",
    "pixel_seed",
)


def _key(k: int | str) -> int:
    if isinstance(k, str):
        return int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "little")
    return int(k)


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent generator for ``(seed, *keys)``; strings are hashed, not ``hash()``-ed."""
    return np.random.default_rng(np.random.SeedSequence([_key(seed), *(_key(k) for k in keys)]))


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 31-bit integer seed for ``(seed, *keys)``."""
    return int(rng(seed, *keys).integers(2**31))


def hex_id(gen: np.random.Generator, n_bytes: int) -> str:
    """Lower-case hex of ``n_bytes`` random bytes."""
    return gen.bytes(n_bytes).hex()


def digits(gen: np.random.Generator, n: int) -> str:
    """``n`` random decimal digits, the first one non-zero."""
    first = str(int(gen.integers(1, 10)))
    return first + "".join(str(int(d)) for d in gen.integers(0, 10, n - 1))


def keep_views(specs: Sequence[ImageSpec], allowed: Sequence[str], dataset: str) -> tuple[list[ImageSpec], int]:
    """The specs whose view is in ``allowed``, and how many were skipped (logged)."""
    kept = [s for s in specs if s.view in allowed]
    skipped = len(specs) - len(kept)
    if skipped:
        logger.info("%s: skipped %d of %d specs with a view other than %s", dataset, skipped, len(specs),
                    "/".join(allowed))
    return kept, skipped


def check_specs(specs: Sequence[ImageSpec], dataset: str) -> None:
    """Fail early on specs a plan cannot index."""
    for i, s in enumerate(specs):
        if s.image_index != i:
            raise ValueError(f"{dataset}: specs[{i}].image_index is {s.image_index}; "
                             "pass the cohort list as sample_cohort returned it")


def patient_splits(patients: Sequence[int], fractions: dict[str, float], gen: np.random.Generator) -> dict[int, str]:
    """Assign each patient to a split, patient-wise, with roughly ``fractions``.

    Every split gets at least one patient when there are enough patients, so tiny demo
    cohorts still exercise every split.
    """
    uniq = sorted(set(patients))
    names = list(fractions)
    p = np.array([fractions[n] for n in names], dtype=float)
    draws = gen.choice(len(names), size=len(uniq), p=p / p.sum())
    if len(uniq) >= len(names):
        for idx in np.argsort(p, kind="stable"):  # rarest split first
            if not (draws == idx).any():
                # the fullest split has >= 2 patients here, so moving one empties nothing
                donor = int(np.argmax(np.bincount(draws, minlength=len(names))))
                draws[int(gen.choice(np.flatnonzero(draws == donor)))] = idx
    return {pat: names[int(d)] for pat, d in zip(uniq, draws)}


def cover(values: list, options: Sequence, eligible: Sequence[int], gen: np.random.Generator) -> list:
    """Make each of ``options`` appear among ``values[eligible]`` when there are enough rows.

    Rows are drawn at random and each option is placed on a distinct row, so the forced
    choices never evict each other.
    """
    values = list(values)
    eligible = list(eligible)
    missing = [o for o in options if not any(values[i] == o for i in eligible)]
    if not missing:
        return values
    order = [eligible[int(j)] for j in gen.permutation(len(eligible))]
    used: set[int] = set()
    for opt in missing:
        # prefer a row whose current value is duplicated elsewhere, so nothing else disappears
        for i in order:
            if i in used:
                continue
            if sum(values[j] == values[i] for j in eligible) > 1 or values[i] not in options:
                values[i] = opt
                used.add(i)
                break
    return values


def assign_broken(n_rows: int, kinds: Sequence[str], n_broken: int, gen: np.random.Generator,
                  eligible: Sequence[int] | None = None) -> list[str]:
    """Pick ``n_broken`` rows (among ``eligible``) and break them, cycling through ``kinds``."""
    if n_broken < 0:
        raise ValueError(f"n_broken must be >= 0, got {n_broken}")
    pool = list(range(n_rows)) if eligible is None else list(eligible)
    if n_broken > len(pool) // 2:
        raise ValueError(f"n_broken={n_broken} is more than half of the {len(pool)} images that can be "
                         "broken; lower n_broken or sample a larger cohort")
    for k in kinds:
        if k not in BROKEN_KINDS:
            raise ValueError(f"unknown broken kind {k!r}; known: {', '.join(BROKEN_KINDS)}")
    out = [""] * n_rows
    chosen = gen.choice(pool, size=n_broken, replace=False) if n_broken else []
    for j, i in enumerate(sorted(int(c) for c in chosen)):
        out[i] = kinds[j % len(kinds)]
    return out


def findings_str(spec: ImageSpec) -> str:
    """The spec's true finding names joined by ``|`` in cohort order ("" if none)."""
    return "|".join(f.name for f in spec.findings)


def finish(rows: list[dict], native: Sequence[str], dataset: str, skipped: int) -> pd.DataFrame:
    """Assemble the plan: common columns first, then ``native`` ones; counts are logged."""
    cols = list(PLAN_COLUMNS) + [c for c in native if c not in PLAN_COLUMNS]
    plan = pd.DataFrame(rows, columns=cols)
    if plan["path"].duplicated().any():
        dup = plan.loc[plan["path"].duplicated(), "path"].iloc[0]
        raise AssertionError(f"{dataset}: two images planned at {dup}")
    plan.attrs["dataset"] = dataset
    plan.attrs["skipped_views"] = skipped
    broken = plan.loc[plan["broken"] != "", "broken"].value_counts().to_dict()
    logger.info("%s: planned %d images (%d broken: %s), skipped %d specs", dataset, len(plan),
                sum(broken.values()), broken or "none", skipped)
    return plan
