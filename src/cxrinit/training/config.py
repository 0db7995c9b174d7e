"""Training hyper-parameters and the two presets: ``paper`` (the study) and ``default`` (ours)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

INTERPOLATIONS = ("bilinear", "nearest")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths. The study: ``flip_p=0.5``, ``rotate_deg=7`` (torchvision's RandomRotation, whose
    default interpolation is nearest). ``scale``: zoom within 1 +- scale; ``translate``: shift within +- that
    fraction of the side; ``brightness``: additive within +- b; ``contrast``: factor within 1 +- c."""

    flip_p: float = 0.5
    rotate_deg: float = 7.0
    scale: float = 0.0
    translate: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if not 0.0 <= self.flip_p <= 1.0:
            raise ValueError(f"augment.flip_p must be within [0, 1], got {self.flip_p}")
        for name in ("rotate_deg", "scale", "translate", "brightness", "contrast"):
            if getattr(self, name) < 0:
                raise ValueError(f"augment.{name} must be >= 0, got {getattr(self, name)}")
        if self.scale >= 1 or self.contrast >= 1:
            raise ValueError("augment.scale and augment.contrast must be < 1")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"augment.interpolation {self.interpolation!r} unknown; use one of {INTERPOLATIONS}")

    @property
    def geometric(self) -> bool:
        return self.flip_p > 0 or self.rotate_deg > 0 or self.scale > 0 or self.translate > 0

    @property
    def photometric(self) -> bool:
        return self.brightness > 0 or self.contrast > 0


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class UnknownOptionError(ValueError):
    """A training option that does not exist: ``path`` (e.g. ``("augment", "flipp")``) and the valid ``known``."""

    def __init__(self, path: tuple[str, ...], known: list[str]) -> None:
        import difflib

        self.path, self.known = path, sorted(known)
        close = difflib.get_close_matches(path[-1], self.known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"unknown training option {'.'.join(path)!r}{hint}; allowed: {self.known}")
SCHEDULES = ("none", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """One fine-tuning run.

    ``batch_size`` is the global batch per optimizer step (all ranks, all accumulation steps together), so a
    run means the same thing on 1 or 8 GPUs; each forward pass sees ``batch_size / (world_size * grad_accum)``.
    ``patience``: stop after that many epochs without a better validation score (None: never stop early).
    ``precision``: ``auto`` is bf16 autocast on CUDA and fp32 elsewhere. ``deterministic``: reproducible
    algorithms, fixed seeds and, on CPU, one thread — a CPU run is then bit-for-bit repeatable.
    """

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-5
    weight_decay: float = 0.0
    schedule: str = "none"
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    grad_clip: float | None = None
    grad_accum: int = 1
    precision: str = "fp32"
    compile: bool = False
    patience: int | None = None
    seed: int = 0
    deterministic: bool = False
    eval_batch_size: int = 128
    prefetch: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if isinstance(self.augment, Mapping):
            object.__setattr__(self, "augment", AugmentConfig(**self.augment))
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} unknown; use one of {PRECISIONS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} unknown; use one of {SCHEDULES}")
        for name in ("epochs", "batch_size", "grad_accum", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or null, got {self.patience}")

    @classmethod
    def preset(cls, name: str = "default", **overrides: Any) -> "TrainConfig":
        """``paper`` or ``default``, with any field overridden (``augment`` may be a dict of its fields)."""
        if name not in PRESETS:
            raise ValueError(f"training preset {name!r} unknown; use one of {sorted(PRESETS)}")
        allowed = [f.name for f in fields(cls)]
        if unknown := sorted(set(overrides) - set(allowed)):
            raise UnknownOptionError((unknown[0],), allowed)
        base = PRESETS[name]
        if isinstance(overrides.get("augment"), Mapping):
            augment = [f.name for f in fields(AugmentConfig)]
            if unknown := sorted(set(overrides["augment"]) - set(augment)):
                raise UnknownOptionError(("augment", unknown[0]), augment)
            overrides["augment"] = replace(base.augment, **overrides["augment"])
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, TrainConfig] = {
    # The study: AdamW lr 1e-5, no weight decay, batch 32, up to 100 epochs, no schedule, fp32, flip + rotation
    # (nearest, torchvision's default); the best epoch is still picked on *validation*, never on test.
    "paper": TrainConfig(augment=AugmentConfig(flip_p=0.5, rotate_deg=7.0, interpolation="nearest")),
    # Ours: same optimizer and batch; bf16 on GPU, decoupled weight decay 0.05 (not on norms/biases/tokens),
    # one warm-up epoch then cosine decay, clipping at 1, bilinear rotation, early stop after 10 flat epochs.
    "default": TrainConfig(weight_decay=0.05, schedule="cosine", warmup_epochs=1.0, grad_clip=1.0,
                           precision="auto", patience=10),
}
