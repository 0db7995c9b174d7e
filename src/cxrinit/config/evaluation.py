"""``evaluation``: paired bootstrap on each source's test split, the study tables and figures."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Settings

#: The study's own choices (defects included), applied by ``preset: paper``: the Youden threshold
#: re-fitted on each test resample and applied as ``score > threshold``, no multiplicity correction.
#: Its p-value ``k/B`` is the ``share_a_le_b`` column; ``p_greater`` is always ``(k+1)/(B+1)``.
PAPER: dict[str, Any] = {"threshold": "test_youden_per_resample", "strict_threshold": True, "adjustment": "none"}


class EvaluationSettings(Settings):
    """Statistics of the comparison (docs/evaluation.md).

    ``preset: paper`` applies :data:`PAPER` over the other keys. ``n_resamples``: bootstrap resamples,
    shared by every model of a source (paired). ``cluster``: resample patients instead of images.
    ``threshold``: ``val_youden`` (Youden's J on validation, applied to test) or the study's
    ``test_youden_per_resample``. ``strict_threshold``: positive when score > threshold (the study)
    instead of >=. ``chunk_size``: resamples per vectorized chunk (bounds memory). ``ci``: level of the
    percentile interval. ``adjustment``: over the whole family of tests. ``p``: the p-value shown in the
    study table.
    """

    preset: Literal["default", "paper"] = "default"
    n_resamples: int = Field(default=1000, ge=1)
    seed: int = 2024
    cluster: bool = False
    threshold: Literal["val_youden", "test_youden_per_resample"] = "val_youden"
    strict_threshold: bool = False
    chunk_size: int = Field(default=100, ge=1)
    ci: float = Field(default=0.95, gt=0.0, lt=1.0)
    adjustment: Literal["bh", "holm", "none"] = "bh"
    p: Literal["one_sided", "two_sided"] = "one_sided"

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") == "paper":
            return {**data, **PAPER}
        return data

    def bootstrap_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`cxrinit.evaluation.bootstrap_metrics`."""
        return {"n_resamples": self.n_resamples, "seed": self.seed, "cluster": self.cluster,
                "threshold": self.threshold, "strict_threshold": self.strict_threshold,
                "chunk_size": self.chunk_size}


__all__ = ["PAPER", "EvaluationSettings"]
