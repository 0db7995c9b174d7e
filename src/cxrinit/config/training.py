"""``pretraining`` and ``finetuning``: training cells (conf/*/parameters_{pretraining,finetuning}.yml)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from functools import cache
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator, model_validator

from cxrinit.models.registry import BUILTIN_INITS, InitSpec, init_spec

from .base import Settings, error_at, unknown_key, unknown_value

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _overrides(dataclass: type, name: str, nested: dict[str, type[BaseModel]] | None = None) -> type[BaseModel]:
    """A settings model with every field of ``dataclass``, each optional (unset: the preset's value),
    typed as the dataclass declares it, unknown keys forbidden: ``train.epochs: two`` is reported at
    ``train.epochs``, ``train.epoch`` with the closest valid key. Generated, so it never drifts."""
    hints = get_type_hints(dataclass)
    spec: dict[str, Any] = {f.name: ((nested or {}).get(f.name, hints[f.name]) | None, None) for f in fields(dataclass)}
    return create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), __doc__=dataclass.__doc__, **spec)


@cache
def train_overrides() -> type[BaseModel]:
    """The model of ``train``: :class:`~cxrinit.training.TrainConfig`'s options (``augment`` nested)."""
    from cxrinit.training.config import AugmentConfig
    from cxrinit.training.config import TrainConfig

    augment = _overrides(AugmentConfig, "AugmentOptions")
    return _overrides(TrainConfig, "TrainOverrides", {"augment": augment})


TrainOverrides = train_overrides()


def check_device(value: str) -> str:
    """A torch device the training code accepts: ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:<index>``."""
    if not DEVICE.fullmatch(value):
        raise ValueError(f"device {value!r}: use auto, cpu, cuda, cuda:<index> or mps")
    return value


def train_config(preset: str, train: BaseModel | dict[str, Any]) -> Any:
    """``TrainConfig.preset(preset, **train)`` with only the options ``train`` sets."""
    from cxrinit.training.config import TrainConfig

    options = train.model_dump(exclude_unset=True) if isinstance(train, BaseModel) else dict(train)
    return TrainConfig.preset(preset, **options)


class TrainOptions(BaseModel):
    """``preset`` and ``train``: a training preset and any :class:`~cxrinit.training.TrainConfig` option over it,
    checked when the settings are built (shared by the pipelines' settings and a cell's configuration)."""

    preset: Literal["default", "paper"] = "default"
    train: TrainOverrides = Field(default_factory=TrainOverrides)  # type: ignore[valid-type]

    @field_validator("train")
    @classmethod
    def _train(cls, train: BaseModel, info: ValidationInfo) -> BaseModel:
        config = train_config(info.data.get("preset", "default"), train)  # values: epochs >= 1, precision, ...
        if config.batch_size % config.grad_accum:
            raise error_at(("batch_size",), f"batch_size {config.batch_size} does not split into grad_accum = "
                           f"{config.grad_accum} equal micro-batches; make it a multiple of grad_accum (and under "
                           "torchrun of the number of GPUs x grad_accum)")
        return train

    def train_config(self) -> Any:
        """The :class:`~cxrinit.training.TrainConfig` of ``preset`` with ``train`` over it."""
        return train_config(self.preset, self.train)


class CellSettings(Settings):
    """What every stage that trains a model shares (pretraining, self-supervised, fine-tuning).

    ``img_size``: the model's input side (pixels); ``store_size``: which pixel-store resolution is read
    (``ingestion.sizes``; None = the store's first). ``normalization``: ``init`` (each initialization's
    own mean/std) or ``paper`` ([0, 1] gray-as-RGB for every arm). ``registry``: initialization entries
    (new inits, or local weights files for the built-in ones; :class:`~cxrinit.models.InitSpec` fields).
    ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``. ``models_dir``: where
    checkpoints and cards go.
    """

    img_size: int = Field(default=224, ge=16, le=4096)
    store_size: int | None = Field(default=None, ge=16, le=4096)
    normalization: Literal["init", "paper"] = "init"
    registry: dict[str, dict[str, Any]] = Field(default_factory=dict)
    device: str = "auto"
    models_dir: str = "data/06_models"

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)

    @field_validator("registry")
    @classmethod
    def _registry(cls, registry: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        known = [f.name for f in fields(InitSpec)]
        for name, entry in registry.items():
            for key in entry:
                if key not in known or key == "name":
                    raise unknown_key(key, [k for k in known if k != "name"], within=(name,))
            try:
                init_spec({"name": name, **entry})
            except ValueError as err:  # the message names the init and the bad field: report it at that key
                field = re.search(r"\b(\w+)=", str(err))
                raise error_at((name, field.group(1)) if field and field.group(1) in entry else (name,),
                               str(err)) from None
            file = entry.get("file")
            if file and not Path(str(file)).expanduser().is_file():
                raise error_at((name, "file"), f"no weights file at {file} (give an absolute path, or one relative "
                                               "to the project folder)")
        return registry

    def known_inits(self) -> list[str]:
        """Built-in initializations and this block's registry entries."""
        return list(dict.fromkeys([*BUILTIN_INITS, *self.registry]))


class TrainingSettings(CellSettings, TrainOptions):
    """The supervised cells (pretraining and fine-tuning): :class:`CellSettings` plus ``preset`` (training
    preset, ``paper`` = the study's hyper-parameters) and ``train`` (any
    :class:`~cxrinit.training.TrainConfig` option over the preset, ``augment`` a mapping of its options).
    """


class FinetuningSettings(TrainingSettings):
    """Fine-tuning cells, one per (source, init) (docs/training.md).

    ``inits``: the arms; each is a cell of every source (``mimic`` only on MIMIC targets), a built-in
    initialization or a ``registry`` entry. ``label_set``: labels.yml set the non-MIMIC arms train on;
    ``mimic_label_set``: the set the MIMIC arm trains on (what the target shares with MIMIC).
    """

    inits: list[str] = Field(default_factory=lambda: ["dinov2", "imagenet21k", "mimic"], min_length=1)
    label_set: str = "study"
    mimic_label_set: str = "mimic_shared"

    @model_validator(mode="after")
    def _inits(self) -> FinetuningSettings:
        known = self.known_inits()
        for i, init in enumerate(self.inits):
            if init not in known:
                raise error_at(("inits", str(i)), unknown_value(init, known, "initialization").message()
                               + " (a new one is defined under finetuning.registry)")
        if len(set(self.inits)) < len(self.inits):
            raise ValueError(f"inits lists an initialization twice: {self.inits}")
        return self


class PretrainingSettings(TrainingSettings):
    """The supervised initialization(s) of the ``mimic`` arm, trained on ``source``'s train split.

    ``init``: what it starts from (the study: ImageNet-21k ViT-B/16). ``mode``: ``per_target`` (the
    study: one model per target's label set, head kept) or ``shared`` (one model on the union of the
    targets' label sets, a fresh head per target). ``label_set``: labels.yml set holding what each
    target shares with the source.
    """

    source: str = "mimic"
    init: str = "imagenet21k"
    mode: Literal["per_target", "shared"] = "per_target"
    label_set: str = "mimic_shared"

    @model_validator(mode="after")
    def _init(self) -> PretrainingSettings:
        if self.init not in self.known_inits():
            raise error_at(("init",), unknown_value(self.init, self.known_inits(), "initialization").message())
        return self


__all__ = ["CellSettings", "FinetuningSettings", "PretrainingSettings", "TrainOptions", "TrainingSettings", "check_device",
           "train_config"]
