"""How each dataset's detectors differ: size, contrast, noise, blur, bit depth, photometry.

A :class:`Profile` holds ranges; :func:`draw` picks one image's parameters (stored in the
plan); :func:`acquire` turns the phantom's ideal film into what that detector recorded. All
randomness comes from seeds in the plan, so pixels are reproducible per image whatever the
worker count.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from cxrinit.demo.cohort import ImageSpec

#: ``render(spec, (height, width))`` -> float32 HxW in [0, 1], 1 = dense/white (MONOCHROME2).
Renderer = Callable[[ImageSpec, tuple[int, int]], np.ndarray]


@dataclass(frozen=True)
class Profile:
    """Per-dataset acquisition ranges; every image draws its own values inside them."""

    height: tuple[int, int]
    width: tuple[int, int]
    gamma: tuple[float, float] = (0.8, 1.25)  # contrast curve applied to the ideal film
    noise: tuple[float, float] = (0.005, 0.02)  # noise std at mid-gray, fraction of full scale
    blur: tuple[float, float] = (0.0, 0.8)  # gaussian sigma in pixels
    lo: tuple[float, float] = (0.02, 0.12)  # recorded level of the darkest film value
    hi: tuple[float, float] = (0.80, 0.97)  # recorded level of the brightest film value


def draw(profile: Profile, gen: np.random.Generator, scale: float = 1.0) -> dict[str, float | int]:
    """One image's acquisition parameters; ``scale`` shrinks the image size (tests, quick demos)."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    h = int(gen.integers(profile.height[0], profile.height[1] + 1))
    w = int(gen.integers(profile.width[0], profile.width[1] + 1))
    return {
        "height": max(16, round(h * scale)),
        "width": max(16, round(w * scale)),
        "gamma": round(float(gen.uniform(*profile.gamma)), 4),
        "noise": round(float(gen.uniform(*profile.noise)), 5),
        "blur": round(float(gen.uniform(*profile.blur)), 3),
        "lo": round(float(gen.uniform(*profile.lo)), 4),
        "hi": round(float(gen.uniform(*profile.hi)), 4),
    }


def render_checked(render: Renderer, spec: ImageSpec, shape: tuple[int, int]) -> np.ndarray:
    """Call the renderer and insist on its contract, naming the image when it breaks it."""
    img = np.asarray(render(spec, shape))
    if img.shape != tuple(shape):
        raise ValueError(f"renderer returned shape {img.shape} for image {spec.image_index}, expected {shape}")
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"renderer returned dtype {img.dtype} for image {spec.image_index}; expected float in [0, 1]")
    if not np.isfinite(img).all() or img.min() < -1e-6 or img.max() > 1 + 1e-6:
        raise ValueError(f"renderer returned values outside [0, 1] (or NaN) for image {spec.image_index}")
    return img.astype(np.float64)


def acquire(img: np.ndarray, row: dict, seed: int) -> np.ndarray:
    """The detector's view of the ideal film ``img``: contrast, blur, level, noise; [0, 1]."""
    x = np.clip(img, 0.0, 1.0) ** float(row["gamma"])
    if float(row["blur"]) > 0.05:
        x = gaussian_filter(x, float(row["blur"]), mode="nearest")
    lo, hi = float(row["lo"]), float(row["hi"])
    x = lo + (hi - lo) * x
    gen = np.random.default_rng(seed)
    # quantum noise grows with the signal; a floor keeps dark areas from being noise-free
    x = x + gen.standard_normal(x.shape) * float(row["noise"]) * np.sqrt(0.25 + x)
    return np.clip(x, 0.0, 1.0)


def quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """[0, 1] -> unsigned integers of ``bits`` bits (uint8 up to 8 bits, else uint16)."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be 1..16, got {bits}")
    top = (1 << bits) - 1
    q = np.rint(np.clip(x, 0.0, 1.0) * top)
    return q.astype(np.uint8 if bits <= 8 else np.uint16)


def encode_png(arr: np.ndarray, rgba: bool = False) -> bytes:
    """PNG bytes: 8-bit gray (uint8), 16-bit gray (uint16), or RGBA with an opaque alpha."""
    if arr.dtype == np.uint16:
        im = Image.fromarray(arr)  # 16-bit gray ("I;16")
        if rgba:
            raise ValueError("RGBA PNGs are 8-bit; got a 16-bit image")
    elif arr.dtype == np.uint8:
        im = Image.fromarray(arr)
        if rgba:
            im = Image.merge("RGBA", (im, im, im, Image.new("L", im.size, 255)))
    else:
        raise ValueError(f"PNG: need uint8 or uint16, got {arr.dtype}")
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=3)  # level 6 is 4x slower on noisy films for 4 % smaller files
    return buf.getvalue()


def encode_jpeg(arr: np.ndarray, quality: int) -> bytes:
    """Baseline 8-bit gray JPEG bytes."""
    if arr.dtype != np.uint8:
        raise ValueError(f"JPEG: need uint8, got {arr.dtype}")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def truncate(data: bytes, seed: int) -> bytes:
    """Keep the first 35-75 % of ``data``: a download cut short in the pixel data."""
    frac = np.random.default_rng(seed).uniform(0.35, 0.75)
    return data[: max(1, int(len(data) * frac))]


#: What a failed download often leaves behind under an image's name.
ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n"
              b"<body><h1>Forbidden</h1><p>You don't have permission to access this resource.</p></body></html>\n")
