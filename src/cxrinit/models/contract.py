"""The input contract of a model: what pixels it expects, serializable for the model registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Normalization = Literal["paper", "init"]
NORMALIZATIONS: tuple[str, ...] = ("paper", "init")


@dataclass(frozen=True)
class InputContract:
    """Pixels a model expects: ``channels`` x ``size`` x ``size``, scaled to [0, 1], then ``(x - mean) / std``.

    ``mean``/``std`` are the values actually applied: with ``normalization="paper"`` (the study: gray copied
    to RGB, [0, 1], no normalization for any arm) they are 0 and 1; with ``"init"`` they are the
    initialization's own (timm ``pretrained_cfg`` or the init's configuration).
    """

    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    normalization: Normalization = "init"

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization {self.normalization!r} unknown; use one of {list(NORMALIZATIONS)}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != self.channels:
                raise ValueError(f"{name} has {len(value)} values for {self.channels} channel(s)")
            object.__setattr__(self, name, value)
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")

    @classmethod
    def for_init(cls, size: int, mean: tuple[float, ...], std: tuple[float, ...],
                 normalization: Normalization = "init", channels: int = 3) -> "InputContract":
        """Contract of an initialization whose own statistics are ``mean``/``std``."""
        if normalization == "paper":
            return cls(channels, size, (0.0,) * channels, (1.0,) * channels, "paper")
        return cls(channels, size, tuple(mean), tuple(std), normalization)

    @property
    def is_identity(self) -> bool:
        """True when normalization changes nothing (the paper preset)."""
        return all(m == 0.0 for m in self.mean) and all(s == 1.0 for s in self.std)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists, not tuples)."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputContract":
        missing = {"channels", "size", "mean", "std"} - set(d)
        if missing:
            raise ValueError(f"input contract is missing {sorted(missing)}; got keys {sorted(d)}")
        return cls(int(d["channels"]), int(d["size"]), tuple(d["mean"]), tuple(d["std"]),
                   d.get("normalization", "init"))
