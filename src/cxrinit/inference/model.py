"""What prediction needs to know about a trained model, parsed from its registry tags (no MLflow here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cxrinit.imaging.transforms import Recipe
from cxrinit.models.contract import InputContract


class ModelNotFound(LookupError):
    """The registered model, alias or version does not exist (the message says what does)."""


class ModelTagsError(ValueError):
    """A model version lacks, or has unreadable, tags that prediction needs."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model version: how its training pixels were made and what its outputs mean."""

    name: str
    version: str
    uri: str  # models:/<name>@<alias> or models:/<name>/<version>, as requested
    contract: InputContract
    findings: list[str]
    recipe: Recipe
    store_size: int
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Trained on the synthetic demo data (tag ``provenance.synthetic_data``; :mod:`cxrinit.provenance`)."""
        return self.tags.get("provenance.synthetic_data") == "true"

    @classmethod
    def from_tags(cls, name: str, version: str, uri: str, tags: Mapping[str, str], *,
                  recipe: Recipe | None = None, store_size: int | None = None) -> ModelSpec:
        """Parse ``input_contract``, ``findings`` and ``preprocessing`` tags; ``recipe``/``store_size`` only fill
        in for versions registered before the ``preprocessing`` tag existed."""
        where = f"{uri} (version {version})"
        contract = InputContract.from_dict(_json_tag(tags, "input_contract", where))
        findings = _json_tag(tags, "findings", where)
        if not isinstance(findings, list) or not findings or not all(isinstance(f, str) for f in findings):
            raise ModelTagsError(f"{where}: tag 'findings' must be a non-empty JSON list of names, got {findings!r}")
        prep = _json_tag(tags, "preprocessing", where) if "preprocessing" in tags else {}
        if "recipe" in prep:
            tagged = Recipe.from_dict(prep["recipe"])
            if recipe is not None and recipe != tagged:
                raise ModelTagsError(f"{where}: a recipe was passed but the model records its own ({tagged}); "
                                     "predicting with another recipe would not match training, so drop the override")
            recipe = tagged
        if "store_size" in prep:
            tagged_size = int(prep["store_size"])
            if store_size is not None and int(store_size) != tagged_size:
                raise ModelTagsError(f"{where}: store_size {store_size} passed but the model was trained on "
                                     f"{tagged_size} px store images; drop the override")
            store_size = tagged_size
        if recipe is None or store_size is None:
            missing = [n for n, v in (("recipe", recipe), ("store_size", store_size)) if v is None]
            raise ModelTagsError(
                f"{where}: the tag 'preprocessing' does not record {' and '.join(missing)} (the version was "
                "registered before it existed); pass them explicitly (--store-size, --recipe '{...}' on the "
                "command line): the pixel store's fingerprint.json holds the recipe, its folder name the size")
        return cls(name, str(version), uri, contract, list(findings), recipe, int(store_size), dict(tags))


@dataclass
class LoadedModel:
    """A :class:`ModelSpec` with its network (output: ``N x len(findings)`` logits) on ``device``."""

    spec: ModelSpec
    module: nn.Module
    device: torch.device


def _json_tag(tags: Mapping[str, str], key: str, where: str) -> Any:
    if key not in tags:
        raise ModelTagsError(f"{where}: tag {key!r} is missing; cxrinit registers every model with it "
                             "(was this version registered by cxrinit.tracking.register_model?)")
    try:
        return json.loads(tags[key])
    except ValueError as err:
        raise ModelTagsError(f"{where}: tag {key!r} is not valid JSON ({err}): {tags[key][:200]!r}") from None
