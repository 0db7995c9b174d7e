"""``evaluation``: paired bootstrap on each source's test split, the study tables and figures."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import Settings

#: The study's own choices (defects included), applied by ``preset: paper``: the Youden threshold
#: re-fitted on each test resample and applied as ``score > threshold``, no multiplicity correction.
#: Its p-value ``k/B`` is the ``share_a_le_b`` column; ``p_greater`` is always ``(k+1)/(B+1)``.
PAPER: dict[str, Any] = {"threshold": "test_youden_per_resample", "strict_threshold": True, "adjustment": "none"}


class Control(BaseModel):
    """A control comparison whose outcome is known in advance (the demo's; any study may declare its own).

    ``positive``: ``arms[0]`` must beat ``arms[1]`` (one-sided adjusted p < ``alpha`` on the mean AUROC
    over the findings both learned) on at least ``min_sources`` sources: the chain can detect a real
    effect. ``negative``: the two arms differ only by chance (e.g. two seeds of one arm), so no source may
    show a difference (two-sided adjusted p < ``alpha``): the chain does not invent one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["positive", "negative"]
    arms: tuple[str, str]
    min_sources: int = Field(default=1, ge=1)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)

    @field_validator("arms")
    @classmethod
    def _two(cls, arms: tuple[str, str]) -> tuple[str, str]:
        if arms[0] == arms[1]:
            raise ValueError(f"a control compares two different arms, got {list(arms)}")
        return arms

    @property
    def name(self) -> str:
        a, b = self.arms
        return f"positive: {a} better than {b}" if self.kind == "positive" else f"negative: {a} vs {b}"


class EvaluationSettings(Settings):
    """Statistics of the comparison (docs/evaluation.md).

    ``preset: paper`` applies :data:`PAPER` over the other keys. ``n_resamples``: bootstrap resamples,
    shared by every model of a source (paired). ``cluster``: resample patients instead of images.
    ``threshold``: ``val_youden`` (Youden's J on validation, applied to test) or the study's
    ``test_youden_per_resample``. ``strict_threshold``: positive when score > threshold (the study)
    instead of >=. ``chunk_size``: resamples per vectorized chunk (bounds memory). ``ci``: level of the
    percentile interval. ``adjustment``: over the whole family of tests. ``p``: the p-value shown in the
    study table. ``controls``: comparisons whose outcome is known (:class:`Control`), checked and reported
    first in the study table.
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
    controls: list[Control] = Field(default_factory=list)

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


__all__ = ["PAPER", "Control", "EvaluationSettings"]
