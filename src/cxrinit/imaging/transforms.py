"""From decoded pixels to the stored uint8 square: resize, min-max, equalize, optional letterbox.

The study's recipe (and our default): resize to size x size without keeping the aspect ratio,
per-image min-max to [0, 1], to uint8, global histogram equalization. Deviations by default, each
switchable back through :class:`Recipe` (``Recipe.paper()`` switches them all):

* resizing is antialiased (``cv2.INTER_AREA`` when shrinking, bilinear when enlarging) instead of
  ``scipy.ndimage.zoom(order=2)``, which skips pixels when shrinking 3000 -> 224 and aliases;
* 16-bit PNG keeps its 16 bits until the min-max (the study read PNG/JPEG as 8-bit gray, which
  keeps only the high byte of PadChest's 16-bit data);
* DICOM VOI LUT / window is applied (the study min-maxed the raw pixel data);
* JPEG is decoded at a reduced DCT scale when that still covers the output size.

``fit="letterbox"`` keeps the aspect ratio: the image is scaled to fit inside size x size,
min-maxed and equalized on its own pixels only, then centred and padded with 0, so the padding
never takes part in the histogram.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

from cxrinit.imaging.decode import DecodedImage
from cxrinit.imaging.reasons import QuarantineError, Status

FITS = ("stretch", "letterbox")
BIT_DEPTHS = ("native", "8bit")
INTERPOLATIONS = ("area", "zoom2")


@dataclass(frozen=True)
class Recipe:
    """How a decoded image becomes the stored uint8 square (see the module docstring)."""

    fit: str = "stretch"  # "stretch" (study) or "letterbox" (aspect kept, zero padding)
    bit_depth: str = "native"  # "native" keeps 16-bit PNG depth; "8bit" reads PNG/JPEG like the study
    interpolation: str = "area"  # "area" (antialiased) or "zoom2" (study: scipy.ndimage.zoom order 2)
    voi: bool = True  # apply the DICOM VOI LUT / window when present
    equalize: bool = True  # global histogram equalization after the uint8 conversion
    jpeg_draft: bool = True  # let libjpeg decode at a reduced scale that still covers the output
    min_side: int = 64  # smaller originals are quarantined as implausible_size
    max_side: int = 10000  # larger originals are quarantined (and never decoded)

    def __post_init__(self) -> None:
        for name, allowed in (("fit", FITS), ("bit_depth", BIT_DEPTHS), ("interpolation", INTERPOLATIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Recipe.{name}={getattr(self, name)!r}; choose one of {allowed}")
        for name in ("voi", "equalize", "jpeg_draft"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Recipe.{name} must be true or false, got {getattr(self, name)!r}")
        if not (1 <= self.min_side <= self.max_side):
            raise ValueError(f"Recipe needs 1 <= min_side <= max_side, got {self.min_side}, {self.max_side}")

    @classmethod
    def paper(cls, **overrides: Any) -> Recipe:
        """The study's preprocessing: 8-bit read, zoom order 2, raw DICOM values, full JPEG decode."""
        base = {"bit_depth": "8bit", "interpolation": "zoom2", "voi": False, "jpeg_draft": False}
        return cls(**(base | overrides))

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> Recipe:
        """Build from configuration; ``preset: paper`` starts from :meth:`paper`."""
        params = dict(params)
        preset = params.pop("preset", "default")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown Recipe keys {unknown}; known: {sorted(known)} and 'preset'")
        if preset == "paper":
            return cls.paper(**params)
        if preset != "default":
            raise ValueError(f"unknown Recipe preset {preset!r}; use 'default' or 'paper'")
        return cls(**params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_shape(height: int, width: int, size: int, fit: str) -> tuple[int, int]:
    """(h, w) of the resized image before padding: size x size, or the aspect-kept fit inside it."""
    if fit == "stretch":
        return size, size
    scale = size / max(height, width)
    return max(1, min(size, round(height * scale))), max(1, min(size, round(width * scale)))


def resize(pixels: np.ndarray, shape: tuple[int, int], interpolation: str = "area") -> np.ndarray:
    """Resize a 2-D array to ``shape`` = (h, w); float32 or the input's integer type out."""
    h, w = pixels.shape
    th, tw = shape
    if interpolation == "zoom2":
        from scipy import ndimage  # only the paper preset needs scipy here

        return ndimage.zoom(pixels, (th / h, tw / w), order=2)
    if pixels.dtype not in (np.uint8, np.uint16, np.int16, np.float32):
        pixels = pixels.astype(np.float32)
    if (th, tw) == (h, w):
        return pixels
    if th > h or tw > w:
        return cv2.resize(pixels, (tw, th), interpolation=cv2.INTER_LINEAR)
    kh, kw = h // th, w // tw
    if kh > 1 or kw > 1:
        # Box-average by whole factors first (OpenCV's fast path, ~4x quicker than a fractional
        # INTER_AREA on 3000 px), onto the smallest grid still >= the target; the < k leftover
        # rows/columns are cropped evenly from both edges.
        ch, cw = (h // kh) * kh, (w // kw) * kw
        top, left = (h - ch) // 2, (w - cw) // 2
        whole = pixels[top : top + ch, left : left + cw]
        pixels = cv2.resize(whole, (cw // kw, ch // kh), interpolation=cv2.INTER_AREA)
    return cv2.resize(pixels, (tw, th), interpolation=cv2.INTER_AREA)


def minmax_uint8(pixels: np.ndarray) -> np.ndarray:
    """Per-image min-max to [0, 255], rounded; ``blank`` quarantine for a constant image."""
    lo, hi = float(pixels.min()), float(pixels.max())
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise QuarantineError(Status.DECODE_ERROR, "pixels contain NaN or infinity")
    if hi <= lo:
        raise QuarantineError(Status.BLANK, f"every pixel is {lo:g}")
    scaled = (pixels.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    return np.rint(scaled, out=scaled).astype(np.uint8)


def preprocess(image: DecodedImage | np.ndarray, size: int, recipe: Recipe = Recipe()) -> np.ndarray:
    """A decoded image (or 2-D array, bright = dense) -> uint8 (size, size) per ``recipe``."""
    if isinstance(image, DecodedImage):
        pixels, scale, offset = image.pixels, image.scale, image.offset
    else:
        pixels, scale, offset = image, 1.0, 0.0
    if pixels.ndim != 2:
        raise ValueError(f"preprocess needs a 2-D gray array, got shape {pixels.shape}")
    h, w = content_shape(*pixels.shape, size, recipe.fit)
    small = resize(pixels, (h, w), recipe.interpolation)
    if (scale, offset) != (1.0, 0.0):  # resizing is linear, so the affine part commutes with it
        small = small.astype(np.float32) * np.float32(scale) + np.float32(offset)
    out = minmax_uint8(small)
    if recipe.equalize:
        out = cv2.equalizeHist(out)
    if (h, w) == (size, size):
        return out
    canvas = np.zeros((size, size), np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top : top + h, left : left + w] = out
    return canvas
