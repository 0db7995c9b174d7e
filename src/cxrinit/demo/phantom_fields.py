"""Vectorized drawing primitives for the phantom: the coordinate grid, soft shapes, noise, lines.

Everything is defined in anatomy units (see :mod:`cxrinit.demo.phantom_geometry`) so a film looks
the same at any resolution; edges are softened over at least about one pixel to avoid aliasing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

F32 = np.float32


class Grid:
    """Anatomy coordinates ``X, Y`` of every pixel of a canvas of ``shape`` under a film transform.

    The film maps anatomy ``a`` to normalized film coordinates ``n = scale * R(rot) a + shift``;
    normalized units are half the shorter side, centred.
    """

    def __init__(self, shape: tuple[int, int], rotation_deg: float = 0.0,
                 shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0) -> None:
        h, w = shape
        self.shape = (h, w)
        self.half = min(h, w) / 2.0
        self.px = self.half * scale  # pixels per anatomy unit
        th = np.deg2rad(rotation_deg)
        self._c, self._s = float(np.cos(th)), float(np.sin(th))
        self._shift, self._scale = shift, scale
        cols = (((np.arange(w, dtype=F32) + 0.5 - w / 2) / self.half) - shift[0]) / scale
        rows = (((np.arange(h, dtype=F32) + 0.5 - h / 2) / self.half) - shift[1]) / scale
        c, s = F32(self._c), F32(self._s)
        self.X = c * cols[None, :] + s * rows[:, None]
        self.Y = -s * cols[None, :] + c * rows[:, None]
        #: soft edge width in anatomy units: about 1.2 px, never sharper than ~1.2 mm
        self.eps = F32(max(1.2 / self.px, 0.006))

    def to_pixels(self, pts: np.ndarray) -> np.ndarray:
        """Anatomy points (N, 2) -> pixel coordinates (col, row) as float."""
        pts = np.asarray(pts, dtype=np.float64)
        nx = self._scale * (self._c * pts[:, 0] - self._s * pts[:, 1]) + self._shift[0]
        ny = self._scale * (self._s * pts[:, 0] + self._c * pts[:, 1]) + self._shift[1]
        h, w = self.shape
        return np.stack([nx * self.half + w / 2 - 0.5, ny * self.half + h / 2 - 0.5], axis=1)

    def window(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice] | None:
        """Pixel slices covering the anatomy box [x0, x1] x [y0, y1]; ``None`` when off the film."""
        corners = self.to_pixels(np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]))
        h, w = self.shape
        c0 = max(int(np.floor(corners[:, 0].min())) - 2, 0)
        c1 = min(int(np.ceil(corners[:, 0].max())) + 3, w)
        r0 = max(int(np.floor(corners[:, 1].min())) - 2, 0)
        r1 = min(int(np.ceil(corners[:, 1].max())) + 3, h)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def local(self, x0: float, x1: float, y0: float, y1: float):
        """``(window, X, Y)`` views of the box, or ``None`` when it is off the film."""
        win = self.window(x0, x1, y0, y1)
        if win is None:
            return None
        return win, self.X[win], self.Y[win]


def ramp(d: np.ndarray, width: float) -> np.ndarray:
    """Soft inside-indicator of a signed distance ``d`` (positive inside): 0 .. 1 over ``width``."""
    return np.clip(d * F32(1.0 / width) + F32(0.5), 0.0, 1.0)


def smooth(t: np.ndarray) -> np.ndarray:
    """Smoothstep of ``t`` clipped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (F32(3.0) - F32(2.0) * t)


def ellipse_distance(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, a: float, b: float,
                     tilt: float = 0.0) -> np.ndarray:
    """Approximate signed distance to an ellipse (positive inside), first order in (1 - rho)."""
    dx, dy = X - F32(cx), Y - F32(cy)
    if tilt:
        c, s = F32(np.cos(tilt)), F32(np.sin(tilt))
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    ia2, ib2 = F32(1.0 / (a * a)), F32(1.0 / (b * b))
    rho2 = dx * dx * ia2 + dy * dy * ib2
    rho = np.sqrt(rho2) + F32(1e-6)
    grad = np.sqrt((dx * ia2) ** 2 + (dy * ib2) ** 2) / rho + F32(1e-6)
    return (F32(1.0) - rho) / grad


def ball(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, r: float, eps: float) -> np.ndarray:
    """Projected thickness of a sphere (0 .. 1 at the centre) with a soft rim."""
    d2 = ((X - F32(cx)) ** 2 + (Y - F32(cy)) ** 2) * F32(1.0 / (r * r))
    core = np.sqrt(np.clip(F32(1.0) - d2, 0.0, 1.0))
    rim = ramp((F32(1.0) - np.sqrt(d2)) * F32(r), eps)
    return np.maximum(core, rim * F32(0.25))


def segment_distance(X: np.ndarray, Y: np.ndarray, p0: Sequence[float], p1: Sequence[float]) -> np.ndarray:
    """Euclidean distance of every pixel to the segment p0-p1."""
    vx, vy = F32(p1[0] - p0[0]), F32(p1[1] - p0[1])
    wx, wy = X - F32(p0[0]), Y - F32(p0[1])
    t = np.clip((wx * vx + wy * vy) * F32(1.0 / max(float(vx * vx + vy * vy), 1e-12)), 0.0, 1.0)
    return np.sqrt((wx - t * vx) ** 2 + (wy - t * vy) ** 2)


def lut(Y: np.ndarray, knots: Sequence[float], values: Sequence[float], n: int = 4096) -> np.ndarray:
    """Piecewise-linear function of ``Y`` through (knots, values), via a lookup table (fast)."""
    lo, hi = float(knots[0]), float(knots[-1])
    table = np.interp(np.linspace(lo, hi, n), knots, values).astype(F32)
    idx = np.clip((Y - F32(lo)) * F32((n - 1) / (hi - lo)) + F32(0.5), 0, n - 1).astype(np.int32)
    return table[idx]


@lru_cache(maxsize=512)
def _noise_grid(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 0x7E57])
    grid = rng.standard_normal((n, n)).astype(F32)
    grid.flags.writeable = False
    return grid, rng.uniform(0, n, size=2).astype(F32)


class Noise:
    """Smooth random fields from a seed, sampled at anatomy coordinates (resolution independent)."""

    def __init__(self, seed: int, n: int = 96) -> None:
        self.n = n
        self.grid, self.offset = _noise_grid(int(seed), n)

    def __call__(self, X: np.ndarray, Y: np.ndarray, freq: float, cubic: bool = True) -> np.ndarray:
        """Field with about ``freq`` features per anatomy unit, zero mean, unit-ish variance."""
        mx = X * F32(freq) + self.offset[0]
        my = Y * F32(freq) + self.offset[1]
        flag = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
        return cv2.remap(self.grid, np.ascontiguousarray(mx), np.ascontiguousarray(my), flag,
                         borderMode=cv2.BORDER_WRAP)


def draw_polyline(layer: np.ndarray, grid: Grid, pts: np.ndarray, thickness: float, value: int,
                  closed: bool = False) -> None:
    """Antialiased polyline of anatomy points onto a uint8 ``layer`` (thickness in anatomy units)."""
    pix = grid.to_pixels(pts)
    shift = 4
    ipts = np.round(pix * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)
    th = max(1, int(round(thickness * grid.px)))
    cv2.polylines(layer, [ipts], closed, int(value), th, cv2.LINE_AA, shift)


def draw_circle(layer: np.ndarray, grid: Grid, center: Sequence[float], radius: float, value: int,
                thickness: float | None = None) -> None:
    """Antialiased circle (filled when ``thickness`` is None) in anatomy units onto a uint8 layer."""
    c = grid.to_pixels(np.array([center]))[0]
    shift = 4
    r = max(1, int(round(radius * grid.px * (1 << shift))))
    th = -1 if thickness is None else max(1, int(round(thickness * grid.px)))
    cv2.circle(layer, (int(round(c[0] * (1 << shift))), int(round(c[1] * (1 << shift)))), r, int(value), th,
               cv2.LINE_AA, shift)


def curve(points: Sequence[Sequence[float]], n: int = 40) -> np.ndarray:
    """A smooth curve through control points (Catmull-Rom), as (n, 2) anatomy points."""
    P = np.asarray(points, dtype=np.float64)
    if len(P) < 3:
        t = np.linspace(0, 1, n)[:, None]
        return P[0] * (1 - t) + P[-1] * t
    P = np.vstack([2 * P[0] - P[1], P, 2 * P[-1] - P[-2]])
    segs = len(P) - 3
    t = np.linspace(0, segs, n, endpoint=True)
    i = np.minimum(t.astype(int), segs - 1)
    u = (t - i)[:, None]
    p0, p1, p2, p3 = P[i], P[i + 1], P[i + 2], P[i + 3]
    return 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)
