"""Self-supervised pretraining options: the DINO method, its multi-crop views, and the optimization.

Defaults are DINO's ViT-B recipe (Caron et al. 2021, https://github.com/facebookresearch/dino, main_dino.py)
with radiograph-suited views: no colour jitter, saturation or hue (the images are gray), no random
grayscale; brightness/contrast jitter is available and off by default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DinoOptions(_Options):
    """DINO's heads, loss and teacher (lightly's ``DINOProjectionHead``, ``DINOLoss``, ``KoLeoLoss``).

    ``out_dim``: prototypes of the head's last layer; ``teacher_temp`` is reached linearly from
    ``warmup_teacher_temp`` over ``warmup_teacher_temp_epochs``; the teacher is the students' EMA
    with momentum following a cosine from ``momentum_start`` to ``momentum_end`` over all steps;
    ``freeze_last_layer_epochs``: the head's last layer gets no gradient for that many epochs;
    ``koleo_weight``: weight of the KoLeo spreading term on the student's global-view embeddings
    (DINOv2 uses 0.1; 0 = off).
    """

    out_dim: int = Field(default=65536, ge=2)
    hidden_dim: int = Field(default=2048, ge=1)
    bottleneck_dim: int = Field(default=256, ge=1)
    norm_last_layer: bool = True
    freeze_last_layer_epochs: int = Field(default=1, ge=0)
    teacher_temp: float = Field(default=0.04, gt=0)
    warmup_teacher_temp: float = Field(default=0.04, gt=0)
    warmup_teacher_temp_epochs: int = Field(default=30, ge=0)
    student_temp: float = Field(default=0.1, gt=0)
    center_momentum: float = Field(default=0.9, ge=0, le=1)
    momentum_start: float = Field(default=0.996, ge=0, le=1)
    momentum_end: float = Field(default=1.0, ge=0, le=1)
    koleo_weight: float = Field(default=0.0, ge=0)


class CropOptions(_Options):
    """Multi-crop views (lightly's ``DINOTransform``): two global views at the model's ``img_size`` and
    ``n_local`` local views of ``local_size`` px, each a random resized crop of the stored image
    (``*_scale``: area fractions), flipped with ``hflip``, optionally rotated within
    ±``rotation_degrees``, jittered in brightness/contrast with probability ``jitter_prob``, blurred
    (``blur``: probability for the first global, second global and local views) and solarized
    (``solarization``, second global view only)."""

    global_scale: tuple[float, float] = (0.4, 1.0)
    local_size: int = Field(default=96, ge=8)
    local_scale: tuple[float, float] = (0.05, 0.4)
    n_local: int = Field(default=6, ge=0)
    hflip: float = Field(default=0.5, ge=0, le=1)
    rotation_degrees: float = Field(default=0.0, ge=0, le=180)
    jitter_prob: float = Field(default=0.0, ge=0, le=1)
    brightness: float = Field(default=0.4, ge=0)
    contrast: float = Field(default=0.4, ge=0)
    blur: tuple[float, float, float] = (1.0, 0.1, 0.5)
    solarization: float = Field(default=0.2, ge=0, le=1)

    @field_validator("global_scale", "local_scale")
    @classmethod
    def _scale(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 < low <= high <= 1:
            raise ValueError(f"{[low, high]}: use 0 < min <= max <= 1 (fractions of the image area)")
        return value

    @field_validator("blur")
    @classmethod
    def _blur(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not 0 <= p <= 1 for p in value):
            raise ValueError(f"{list(value)}: probabilities within [0, 1]")
        return value


class SSLTrainOptions(_Options):
    """The optimization: AdamW, ``lr`` per 256 images (scaled linearly with ``batch_size``, DINO's rule),
    linear warm-up then cosine to ``min_lr``, weight decay following a cosine from ``weight_decay`` to
    ``weight_decay_end``. ``batch_size``: images per step over all ranks. ``precision``: ``auto`` = bf16
    autocast on CUDA, fp32 elsewhere. ``workers``: data-loading processes per rank (crops are made on
    the CPU). ``deterministic``: reproducible kernels, one CPU thread (a CPU run repeats bit for bit)."""

    epochs: int = Field(default=100, ge=1)
    batch_size: int = Field(default=256, ge=2)
    lr: float = Field(default=5e-4, gt=0)
    min_lr: float = Field(default=1e-6, ge=0)
    warmup_epochs: float = Field(default=10.0, ge=0)
    weight_decay: float = Field(default=0.04, ge=0)
    weight_decay_end: float = Field(default=0.4, ge=0)
    grad_clip: float | None = Field(default=3.0, gt=0)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: bool = False
    workers: int = Field(default=4, ge=0)
    seed: int = 0
    deterministic: bool = False

    @field_validator("warmup_epochs")
    @classmethod
    def _warmup(cls, warmup: float, info: Any) -> float:
        epochs = info.data.get("epochs")
        if epochs is not None and warmup >= epochs:
            raise ValueError(f"{warmup:g} warm-up epochs of {epochs}: the learning rate would never reach its peak "
                             "(DINO collapses that way); use warmup_epochs below epochs, e.g. a tenth of them")
        return warmup


class ProbeOptions(_Options):
    """The k-NN probe after pretraining: ``k`` nearest training images (cosine similarity of the teacher's
    embedding, votes weighted by exp(similarity / ``temperature``), DINO's k-NN evaluation) score each
    finding of the labelled ``source``'s validation images; at most ``max_train`` training images are
    used (the first of a seeded shuffle). ``source: null``: the first enabled source with a validation
    split; ``enabled: false`` skips the probe."""

    enabled: bool = True
    source: str | None = None
    k: int = Field(default=20, ge=1)
    temperature: float = Field(default=0.07, gt=0)
    max_train: int = Field(default=20000, ge=1)
    batch_size: int = Field(default=256, ge=1)


__all__ = ["CropOptions", "DinoOptions", "ProbeOptions", "SSLTrainOptions"]
