"""Synthetic chest radiographs: :func:`render` turns an :class:`ImageSpec` into an ideal film.

The film is float32 in [0, 1], display convention (1 = most attenuating = white, like
MONOCHROME2), deterministic for (spec, shape). Anatomy comes from ``patient_seed``, positioning,
exposure and noise from ``image_seed``, lesion layout from the patient (chronic findings) or the
study (acute ones). Geometry is in resolution-independent anatomy units (see
:mod:`cxrinit.demo.phantom_geometry`); large films are drawn at most :data:`MAX_WORK_SIDE` pixels
on the short side and upsampled (film grain included), which keeps a 2048 x 2048 film near 0.1 s
of one core.

Pneumonia and consolidation differ on purpose: consolidation is multifocal and ill-defined;
pneumonia fills a lobe up to a sharp fissure and shows air bronchograms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

import cv2
import numpy as np
from tqdm.auto import tqdm

from cxrinit.demo import phantom_findings, phantom_frontal, phantom_lateral
from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.phantom_fields import F32, Grid, Noise
from cxrinit.demo.phantom_geometry import Anatomy, anatomy

__all__ = ["Anatomy", "anatomy", "render", "render_many", "render_with_masks", "MAX_WORK_SIDE"]

log = logging.getLogger(__name__)

#: Films whose shorter side exceeds this are drawn at this size and upsampled.
MAX_WORK_SIDE = 1024
#: Attenuation removed by fully aerated lung, relative to soft tissue of full body thickness.
AIR_WEIGHT = 0.62


def _work_shape(shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape
    f = min(1.0, MAX_WORK_SIDE / min(h, w))
    return max(1, int(round(h * f))), max(1, int(round(w * f)))


def _check(spec: ImageSpec, shape: tuple[int, int]) -> tuple[int, int]:
    if not isinstance(spec, ImageSpec):
        raise TypeError(f"render: spec must be an ImageSpec, got {type(spec).__name__}")
    try:
        h, w = (int(shape[0]), int(shape[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"render: shape must be (height, width), got {shape!r}") from None
    if len(shape) != 2 or h < 8 or w < 8:
        raise ValueError(f"render: shape must be (height, width) with both >= 8, got {shape!r}")
    return h, w


def _draw(spec: ImageSpec, anat: Anatomy, work: tuple[int, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Density - aeration on the working canvas, plus the heart and lung masks (frontal only)."""
    grid = Grid(work, anat.rotation_deg, anat.shift, anat.scale)
    if spec.view == "LATERAL":
        film = phantom_lateral.draw(spec, anat, grid)
        return film.dens - F32(AIR_WEIGHT) * film.air, {}
    film = phantom_frontal.Film.blank(grid, anat)
    phantom_frontal.body(film)
    phantom_frontal.lungs(film)
    phantom_frontal.heart_and_hila(film)
    fractures = phantom_findings.apply(spec, film)
    phantom_frontal.markings(film)
    phantom_frontal.ribs(film, fractures)
    phantom_frontal.clavicles_scapulae_humeri(film)
    phantom_frontal.spine(film)
    phantom_frontal.airways_and_gas(film)
    dens = film.dens - F32(AIR_WEIGHT) * film.air
    if film.metal is not None:
        dens += film.metal.astype(F32) * F32(1.2 / 255)
    lung_mask = np.zeros(work, F32)
    for lf in film.lungs.values():
        lung_mask[lf.win] = np.maximum(lung_mask[lf.win], lf.mask)
    return dens, {"heart": film.heart, "lungs": lung_mask}


def _expose(dens: np.ndarray, anat: Anatomy, seed: int) -> np.ndarray:
    """Film characteristic curve, exposure, a little low-frequency mottle and quantum-like noise."""
    k = F32(1.75 * anat.contrast)
    d = np.maximum(dens, 0.0)
    v = F32(1.0) - np.exp(-k * d * np.sqrt(d))
    v = v + F32(anat.brightness) * v
    grid = Grid(dens.shape)
    mottle = Noise(seed ^ 0x5A5A, n=64)(grid.X, grid.Y, 6.0)
    rng = np.random.default_rng([seed, 0x0153])
    grain = rng.standard_normal(dens.shape, dtype=F32)
    v += (F32(0.006) * mottle + F32(anat.noise_sigma) * grain) * (F32(0.4) + v)
    return v


def render_with_masks(spec: ImageSpec, shape: tuple[int, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`render` plus float32 masks at ``shape``: "heart" and "lungs" (empty dict for laterals)."""
    h, w = _check(spec, shape)
    work = _work_shape((h, w))
    anat = anatomy(spec)
    dens, masks = _draw(spec, anat, work)
    img = _expose(dens, anat, spec.image_seed)
    if work != (h, w):
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        masks = {k: cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for k, m in masks.items()}
    np.clip(img, 0.0, 1.0, out=img)
    return img.astype(F32, copy=False), masks


def render(spec: ImageSpec, shape: tuple[int, int]) -> np.ndarray:
    """Render ``spec`` as a float32 (height, width) film in [0, 1], 1 = white (most attenuating)."""
    return render_with_masks(spec, shape)[0]


def render_many(specs: Iterable[ImageSpec], shape: tuple[int, int], desc: str = "phantom") -> Iterator[np.ndarray]:
    """:func:`render` each spec in turn, with a progress bar and the throughput in the log."""
    specs = list(specs)
    t0, n = time.perf_counter(), 0
    for spec in tqdm(specs, desc=desc, unit="film", disable=None):
        yield render(spec, shape)
        n += 1
    dt = time.perf_counter() - t0
    log.info("%s: rendered %d films of %dx%d in %.1f s (%.1f films/s)", desc, n, shape[0], shape[1], dt,
             n / max(dt, 1e-9))
