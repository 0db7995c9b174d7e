"""``harmonization``: native labels -> 1 / 0 / NaN per finding, and patient-wise splits."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Settings


class HarmonizationSettings(Settings):
    """How labels are binarized and images split (the policies themselves live in labels.yml).

    ``preset``: a preset of labels.yml (``default``; ``paper`` = the study's choices). ``label_set``:
    which findings are written per source (``all`` it annotates; training picks its own set).
    ``seed``: the patient-wise split seed (the same splits for every initialization).
    ``policy_overrides`` / ``split_overrides``: per source, single policy / split options over the preset.
    ``use_pixel_store``: drop the images the pixel store quarantined (``not_stored``); ``false``
    harmonizes the manifest alone, so label counts, splits and prevalence can be checked before the
    images are downloaded (the pipeline then does not read the store at all).
    """

    preset: str = "default"
    label_set: str = "all"
    seed: int = 2024
    policy_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    split_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    use_pixel_store: bool = True


__all__ = ["HarmonizationSettings"]
