"""``ingestion``: native files -> manifest and pixel store (conf/*/parameters_ingestion.yml)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pydantic import Field, field_validator

from cxrinit.imaging import Recipe

from .base import Settings, unknown_key
from .sources import View

#: Output sizes outside this range are almost surely a typo (pixels per side).
MIN_SIZE, MAX_SIZE = 16, 4096


class IngestionSettings(Settings):
    """How every source's pixels are stored.

    ``sizes``: output resolutions (pixels per side), decoded once and stored side by side.
    ``recipe``: the preprocessing (:class:`~cxrinit.imaging.Recipe` fields, plus ``preset: paper``
    for the study's). ``workers``: decoding processes (None: every core of this process).
    ``rebuild_on_change``: a store built from other inputs is rebuilt (false: stop with an error).
    ``views``: canonical views ingested unless a source says otherwise (others are counted as
    ``view_filter``).
    """

    sizes: list[int] = Field(default_factory=lambda: [224], min_length=1)
    recipe: Recipe = Field(default_factory=Recipe)
    workers: int | None = Field(default=None, ge=1)
    rebuild_on_change: bool = True
    views: list[View] = Field(default_factory=lambda: ["PA", "AP", "LATERAL", "OTHER"], min_length=1)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: list[int]) -> list[int]:
        bad = [s for s in sizes if not MIN_SIZE <= s <= MAX_SIZE]
        if bad:
            raise ValueError(f"sizes must be within [{MIN_SIZE}, {MAX_SIZE}] pixels, got {bad}")
        if len(set(sizes)) < len(sizes):
            raise ValueError(f"sizes lists a size twice: {sizes}")
        return sizes

    @field_validator("recipe", mode="before")
    @classmethod
    def _recipe(cls, value: Any) -> Recipe:
        if isinstance(value, Recipe):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"recipe must be a mapping of Recipe options, got {type(value).__name__}")
        known = [f.name for f in fields(Recipe)] + ["preset"]
        for key in value:
            if key not in known:
                raise unknown_key(key, known)
        return Recipe.from_dict(value)


__all__ = ["IngestionSettings"]
