"""Seeded, epoch-dependent, shardable batch order whose position can be checkpointed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class EpochSampler:
    """Batches of positions into a dataset of ``n`` items for one rank.

    The permutation depends only on ``(seed, epoch)``; under DDP it is padded to a multiple of
    ``world_size`` by repeating its head and rank ``r`` takes every ``world_size``-th item from ``r``
    (``torch.utils.data.DistributedSampler`` semantics), so ranks see disjoint, equal-length shards.
    ``cursor`` counts the batches of the current epoch already handed out (a mid-epoch position to resume from).
    """

    n: int
    batch_size: int
    seed: int = 0
    shuffle: bool = True
    rank: int = 0
    world_size: int = 1
    drop_last: bool = False
    epoch: int = 0
    cursor: int = 0

    def __post_init__(self) -> None:
        if self.n <= 0 or self.batch_size <= 0:
            raise ValueError(f"sampler needs n > 0 and batch_size > 0, got n={self.n}, batch_size={self.batch_size}")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world of size {self.world_size}")

    def shard(self) -> np.ndarray:
        """This rank's positions for the current epoch, in order."""
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        total = -(-self.n // self.world_size) * self.world_size
        if total > self.n:
            order = np.concatenate([order, np.resize(order, total - self.n)])
        return order[self.rank:total:self.world_size]

    def __len__(self) -> int:
        per_rank = -(-self.n // self.world_size)
        return per_rank // self.batch_size if self.drop_last else -(-per_rank // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Remaining batches of the current epoch (from ``cursor``); the cursor advances as they are taken and is
        back at 0 once the epoch is exhausted (iterating again replays it, as torch samplers do)."""
        shard = self.shard()
        for b in range(self.cursor, len(self)):
            self.cursor = b + 1
            yield shard[b * self.batch_size:(b + 1) * self.batch_size]
        self.cursor = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.cursor = int(epoch), 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "n": self.n}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if int(state["n"]) != self.n or int(state["seed"]) != self.seed:
            raise ValueError(f"sampler state is for n={state['n']}, seed={state['seed']}; this run has n={self.n}, "
                             f"seed={self.seed}: the training set or seed changed since the checkpoint")
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
