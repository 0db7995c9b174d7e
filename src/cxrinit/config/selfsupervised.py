"""``selfsupervised``: the self-supervised (DINO) initialization of the ``ssl`` arm
(conf/*/parameters_selfsupervised.yml, docs/selfsupervised.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from cxrinit.selfsupervised.config import CropOptions, DinoOptions, ProbeOptions, SSLTrainOptions

from cxrinit.models.registry import BUILTIN_INITS

from .base import error_at, unknown_value
from .training import CellSettings

#: The fine-tuning arm that starts from this stage's model.
SSL_INIT = "ssl"


class SelfSupervisedSettings(CellSettings):
    """One self-supervised pretraining run whose teacher backbone becomes the ``ssl`` arm.

    ``sources``: the enabled sources whose *training* images it sees (null: every enabled source; ``[]``:
    none, only ``folders``; a validation or test patient never). ``folders``: folders of unlabeled images (DICOM, PNG, JPEG, any
    depth), decoded into their own pixel store with the ingestion recipe; an image that is also a
    held-out image of a source (same content hash) is refused. ``init``: the start weights (``random``:
    from scratch; ``dinov2``: continued DINOv2 = domain adaptation). ``method``: ``dino``. ``dino``,
    ``crops``, ``train``, ``probe``: the method, its views, the optimization and the k-NN probe.
    ``img_size``, ``store_size``, ``normalization``, ``registry``, ``device`` and ``models_dir`` as in
    ``finetuning``.
    """

    sources: list[str] | None = None
    folders: list[str] = Field(default_factory=list)
    init: str = "random"
    method: Literal["dino"] = "dino"
    dino: DinoOptions = Field(default_factory=DinoOptions)
    crops: CropOptions = Field(default_factory=CropOptions)
    train: SSLTrainOptions = Field(default_factory=SSLTrainOptions)
    probe: ProbeOptions = Field(default_factory=ProbeOptions)

    @field_validator("sources")
    @classmethod
    def _sources(cls, sources: list[str] | None) -> list[str] | None:
        if sources is not None and len(set(sources)) < len(sources):
            raise ValueError(f"a source is listed twice: {sources} (its images would count twice)")
        return sources

    @field_validator("folders")
    @classmethod
    def _folders(cls, folders: list[str]) -> list[str]:
        for i, folder in enumerate(folders):
            if not Path(folder).expanduser().is_dir():
                raise error_at((str(i),), f"no folder at {folder} (give an absolute path, or one relative to the "
                                          "project folder)")
        return folders

    @field_validator("init")
    @classmethod
    def _init(cls, init: str, info: ValidationInfo) -> str:
        known = [k for k in dict.fromkeys([*BUILTIN_INITS, *(info.data.get("registry") or {})]) if k != SSL_INIT]
        if init == SSL_INIT:
            raise ValueError(f"{SSL_INIT!r} is what this stage makes; start from random, dinov2 or another "
                             "initialization")
        if init not in known:
            raise unknown_value(init, known, "initialization")
        return init


__all__ = ["SSL_INIT", "SelfSupervisedSettings"]
