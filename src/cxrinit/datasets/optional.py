"""``OptionalDataset``: another dataset whose absence is not an error.

Cross-source summaries and the evaluation read one output per source or cell; a source you do not
have (or a cell not run yet) has none. Loading a missing one gives an empty value, logged, so the
stages run on whatever sources exist.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset

log = logging.getLogger(__name__)

EMPTY = {"frame": pd.DataFrame, "dict": dict}


class OptionalDataset(AbstractDataset[Any, Any]):
    """Wraps ``dataset`` (a catalog entry); ``empty``: ``frame`` or ``dict``, what a missing one loads as."""

    def __init__(self, dataset: dict[str, Any], empty: str = "frame", metadata: dict[str, Any] | None = None) -> None:
        if empty not in EMPTY:
            raise ValueError(f"OptionalDataset: empty must be one of {sorted(EMPTY)}, got {empty!r}")
        self._inner = AbstractDataset.from_config("optional", dict(dataset))
        self._empty = empty
        self.metadata = metadata

    def load(self) -> Any:
        if not self._inner.exists():
            log.info("%s does not exist (its source or cell has not run): using an empty %s",
                     self._inner, self._empty)
            return EMPTY[self._empty]()
        return self._inner.load()

    def save(self, data: Any) -> None:
        self._inner.save(data)

    def _exists(self) -> bool:
        return self._inner.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": str(self._inner), "empty": self._empty}
