"""Paired bootstrap resamples as count vectors, drawn once per source and shared by all its models.

Resample ``b`` is a vector of N small integers: how often each test image was drawn. With
``cluster=True`` patients are drawn instead (as many draws as there are patients) and every image
enters with its patient's multiplicity, so a patient's images always move together.

The counts are never stored whole: they are regenerated on demand, block by block, each block from
its own child of one seed sequence (``seed`` and the source name). Resample ``b`` is therefore the
same whatever chunk size reads it, and every model of a source sees identical resamples — the
pairing is by construction, not by bookkeeping.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Resamples generated from one child seed; chunking reads whole blocks when it can.
DRAW_BLOCK = 10


@dataclass(frozen=True)
class Resamples:
    """``n_resamples`` bootstrap resamples of ``n_images`` images (optionally clustered by patient)."""

    n_images: int
    n_resamples: int
    seed: int
    source: str = ""
    #: Cluster (patient) index per image, 0..n_clusters-1; None for the plain image bootstrap.
    clusters: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        """How many units each resample draws: patients when clustered, else images."""
        return self.n_images if self.clusters is None else int(self.clusters.max()) + 1

    def _block(self, j: int) -> np.ndarray:
        size = min(DRAW_BLOCK, self.n_resamples - j * DRAW_BLOCK)
        seq = np.random.SeedSequence(entropy=[self.seed, zlib.crc32(self.source.encode())], spawn_key=(j,))
        units = self.n_units
        draws = np.random.default_rng(seq).integers(0, units, size=(size, units))
        draws += np.arange(size)[:, None] * units
        counts = np.bincount(draws.ravel(), minlength=size * units).reshape(size, units)
        counts = counts.astype(np.min_scalar_type(int(counts.max())))  # small ints: uint8 in practice
        return counts if self.clusters is None else counts[:, self.clusters]

    def counts(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Counts of resamples ``start..stop-1``, shape (stop-start, n_images), smallest unsigned dtype."""
        stop = self.n_resamples if stop is None else stop
        if not 0 <= start <= stop <= self.n_resamples:
            raise IndexError(f"resamples {start}..{stop} outside 0..{self.n_resamples}")
        if start == stop:
            return np.zeros((0, self.n_images), np.uint8)
        first, last = start // DRAW_BLOCK, (stop - 1) // DRAW_BLOCK
        blocks = np.concatenate([self._block(j) for j in range(first, last + 1)])
        out = blocks[start - first * DRAW_BLOCK: stop - first * DRAW_BLOCK]
        return out.astype(np.min_scalar_type(int(out.max())), copy=False)

    def chunks(self, chunk_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first resample, counts) for consecutive chunks of about ``chunk_size`` resamples."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        # Whole draw blocks per chunk, so no block is generated twice.
        size = max(DRAW_BLOCK, chunk_size // DRAW_BLOCK * DRAW_BLOCK)
        for start in range(0, self.n_resamples, size):
            yield start, self.counts(start, min(start + size, self.n_resamples))

    def indices(self, b: int) -> np.ndarray:
        """Explicit index array of resample ``b`` (sorted), for checks against a naive implementation."""
        return np.repeat(np.arange(self.n_images), self.counts(b, b + 1)[0])


def draw_resamples(n_images: int | None = None, *, n_resamples: int = 1000, seed: int = 0, source: str = "",
                   patient_ids: np.ndarray | None = None, cluster: bool = False) -> Resamples:
    """The resamples of one source's test set.

    ``cluster=True`` resamples patients (``patient_ids`` per image required). ``seed`` and ``source``
    together fix every resample; pass each source's own name so sources get independent draws.
    """
    if n_images is None:
        if patient_ids is None:
            raise ValueError("give n_images or patient_ids")
        n_images = len(patient_ids)
    if n_images < 1:
        raise ValueError(f"source {source!r}: no test images to resample")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    clusters = None
    if cluster:
        if patient_ids is None or len(patient_ids) != n_images:
            raise ValueError(f"source {source!r}: the cluster bootstrap needs one patient_id per image")
        _, clusters = np.unique(np.asarray(patient_ids).astype(str), return_inverse=True)
    return Resamples(n_images=int(n_images), n_resamples=int(n_resamples), seed=int(seed), source=source,
                     clusters=clusters)
