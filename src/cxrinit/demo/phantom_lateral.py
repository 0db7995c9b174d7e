"""Lateral films: a simplified lateral projection with findings drawn in a simplified way.

x runs from anterior (image left) to posterior (image right); both lungs are superimposed, so
a one-sided finding changes half the aeration. Spine posterior, heart anterior-inferior, one
diaphragm outline per side (the right higher). Not drawn on laterals: rib fractures (not seen
reliably on a lateral film); scoliosis shows only through its uneven hemidiaphragms. The side of a
finding only sets its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.phantom_fields import (F32, Grid, Noise, ball, curve, draw_circle, draw_polyline,
                                         ellipse_distance, lut, ramp, segment_distance, smooth)
from cxrinit.demo.phantom_frontal import draw_vessels, vessel_tree
from cxrinit.demo.phantom_geometry import Anatomy, finding_rng

#: Anterior-posterior depth of the chest relative to its width (a normal thorax is wider than deep).
DEPTH_RATIO = 0.72


@dataclass
class LateralFilm:
    """Accumulators of a lateral film and the lung geometry shared by the findings."""

    grid: Grid
    anat: Anatomy
    dens: np.ndarray
    air: np.ndarray
    marks: np.ndarray
    win: tuple[slice, slice]
    x: np.ndarray  # anterior (-) .. posterior (+), in the lung window
    y: np.ndarray
    d_wall: np.ndarray  # distance to the chest wall (positive inside)
    mask: np.ndarray  # lung field (either lung)
    cx: float
    half_depth: float
    dome: tuple[float, float]  # right, left dome tops
    metal: np.ndarray | None = None


def _dome(x: np.ndarray, top: float, k: float) -> np.ndarray:
    """Diaphragm on a lateral: highest a little anterior, deepest in the posterior sulcus."""
    return F32(top) + F32(k) * (x + F32(0.12)) ** 2


def _opacify(film: LateralFilm, p: np.ndarray, air_loss: float, dens: float) -> None:
    w = film.win
    film.air[w] *= F32(1.0) - F32(air_loss) * p
    film.dens[w] += F32(dens) * p * film.mask
    film.marks[w] *= F32(1.0) - F32(0.8) * p


def _base(film: LateralFilm, emph: float) -> None:
    a, g = film.anat, film.grid
    X, Y = g.X, g.Y
    hd = film.half_depth
    ky = [-1.6, -1.0, -0.85, -0.6, 0.3, 1.6]
    kw = [0.24, 0.28, 0.42, hd + 0.2, hd + 0.24, hd + 0.22]
    kc = [0.14, 0.14, 0.12, film.cx + 0.1, film.cx + 0.12, film.cx + 0.08]
    half = lut(Y, ky, kw)
    cen = lut(Y, ky, kc)
    r = (X - cen) / half
    film.dens += F32(1.1) * np.sqrt(np.clip(F32(1.0) - r * r, 0.0, 1.0))
    # lung field: each lung down to its own dome; where only one is aerated the field is greyer
    w, x, y = film.win, film.x, film.y
    d_dom = [(_dome(x, t, a.lungs[0].dome_k * 0.9) - y) * F32(0.8) for t in film.dome]
    masks = [ramp(np.minimum(film.d_wall, d), g.eps) for d in d_dom]
    film.mask[...] = np.maximum(masks[0], masks[1])
    inner = np.maximum(np.minimum(film.d_wall, d_dom[1] + F32(0.05)), 0.0)
    depth = F32(0.55) + F32(0.45) * (F32(1.0) - np.exp(-inner * F32(1 / 0.1)))
    film.air[w] += F32(0.5 * (1 + 0.2 * emph)) * (masks[0] + masks[1]) * depth


def _mediastinum(film: LateralFilm, heart_scale: float, aorta: float) -> None:
    a, g = film.anat, film.grid
    w, x, y = film.win, film.x, film.y
    top = min(film.dome)
    hx, hy = film.cx - 0.2 * heart_scale - 0.02, top - 0.05
    ha, hb = 0.27 * heart_scale, 0.24 * heart_scale
    heart = ramp(ellipse_distance(x, np.minimum(y, F32(hy)), hx, hy, ha, hb, np.deg2rad(-20)), g.eps * 3)
    film.air[w] *= F32(1.0) - F32(0.5) * heart
    # aorta: ascending, arch, descending in front of the spine
    arch_top = -0.42 - 0.06 * aorta
    pts = curve([(hx + 0.05, hy - 0.2), (film.cx - 0.08, arch_top + 0.04), (film.cx + 0.05, arch_top),
                 (film.cx + 0.2 + 0.03 * aorta, arch_top + 0.12), (film.cx + 0.26 + 0.05 * aorta, 0.1),
                 (film.cx + 0.27, top + 0.1)], 24)
    dist = np.full_like(x, 9.0)
    for p0, p1 in zip(pts[:-1], pts[1:]):
        dist = np.minimum(dist, segment_distance(x, y, p0, p1))
    vessel = ramp(F32(0.035 + 0.01 * aorta) - dist, g.eps * 3)
    film.air[w] *= F32(1.0) - F32(0.2 + 0.1 * aorta) * vessel
    hil = ball(x, y * F32(0.8), film.cx + 0.02, float(np.mean(a.hilum_y)) * 0.8, 0.1, g.eps)
    film.dens[w] += F32(0.06) * hil
    film.air[w] *= F32(1.0) - F32(0.3) * hil
    trach = segment_distance(x, y, (film.cx - 0.12, -1.3), (film.cx + 0.0, min(a.hilum_y) - 0.08))
    film.air[w] += F32(0.22) * ramp(F32(0.034) - trach, g.eps)


def _bones(film: LateralFilm) -> None:
    a, g = film.anat, film.grid
    hd = film.half_depth
    loc = g.local(film.cx + hd - 0.45, film.cx + hd + 0.1, -1.4, 1.4)
    if loc is not None:
        win, X, Y = loc
        xs = F32(film.cx + hd - 0.2) + F32(0.05) * (F32(1.0) - Y * Y)  # thoracic kyphosis
        dx = X - xs
        period = F32(a.rib_spacing * 1.08)
        k = (Y - F32(a.lungs[0].apex_y - 0.12)) / period
        t = k - np.floor(k)
        body = ramp(F32(0.07) - np.abs(dx), g.eps * 2) * smooth(t * F32(8.0)) * smooth((F32(0.88) - t) * F32(8.0))
        cortex = np.exp(-(((np.abs(dx) - F32(0.068)) * F32(1 / 0.008)) ** 2)) * (t < 0.88)
        post = ramp(F32(0.09) - np.abs(dx - F32(0.16)), g.eps * 3) * (F32(0.5) + F32(0.5) * np.cos(t * F32(2 * np.pi)))
        film.dens[win] += F32(0.1) * (F32(0.4) + F32(0.6) * body) * ramp(F32(0.07) - np.abs(dx), g.eps * 2) \
            + F32(0.04) * cortex + F32(0.05) * post
    w, x, y = film.win, film.x, film.y
    # posterior ribs, foreshortened: oblique faint bands over the posterior lung
    q = y - F32(0.45) * (x - F32(film.cx + hd))
    k = q * F32(1 / (a.rib_spacing * 1.05))
    t = k - np.floor(k)
    ribs = smooth(t * F32(10.0)) * smooth((F32(0.35) - t) * F32(10.0)) * smooth((x - F32(film.cx - 0.15)) * F32(4.0))
    film.dens[w] += F32(0.05) * ribs * smooth(film.d_wall * F32(10.0) + F32(1.0))
    # sternum
    sx = film.cx - hd + 0.04
    loc = g.local(sx - 0.05, sx + 0.05, -0.7, 0.35)
    if loc is not None:
        win, X, Y = loc
        d = np.abs(X - F32(sx) - F32(0.04) * (Y + F32(0.7)) * F32(0.3))
        ext = smooth((Y + F32(0.62)) * F32(20.0)) * smooth((F32(0.3) - Y) * F32(20.0))
        film.dens[win] += (F32(0.06) * ramp(F32(0.022) - d, g.eps) + F32(0.06) * np.exp(
            -(((d - F32(0.02)) * F32(1 / 0.005)) ** 2))) * ext


def _markings(film: LateralFilm) -> None:
    """The patient's frontal vessel trees turned sideways: one fans forward, the other backward."""
    a, g = film.anat, film.grid
    layer = np.zeros(g.shape, np.uint8)
    hx = film.cx + 0.02
    for lung, hy, direction in zip(a.lungs, a.hilum_y, (-1, 1)):
        segs, diam = vessel_tree(a.marking_seed, lung, hy)
        segs = segs.copy()
        segs[..., 0] = (segs[..., 0] - (lung.medial_u + 0.05)) * (film.half_depth / lung.width) * 1.3
        draw_vessels(layer, g, segs, diam * 0.85, direction, hx)
    fine = Noise(a.marking_seed + 1, n=128)
    tex = fine(film.x, film.y, 45.0, cubic=False)
    vis = film.marks[film.win] * np.minimum(film.air[film.win] * F32(1.6), F32(1.0))
    film.dens[film.win] += (layer[film.win].astype(F32) * F32(0.07 / 255) + F32(0.012) * tex) * vis


def _findings(spec: ImageSpec, film: LateralFilm) -> None:
    a, g = film.anat, film.grid
    x, y, w = film.x, film.y, film.win
    hd, cx = film.half_depth, film.cx
    dome = max(film.dome)
    for fd in spec.findings:
        rng = finding_rng(spec, fd.name)
        s = fd.severity / 5
        half = 1.0 if fd.side == "both" else 0.55  # one lung of two superimposed
        post = (x - F32(cx)) * F32(1 / hd)  # -1 anterior .. +1 posterior
        if fd.name == "pleural_effusion":
            surface = F32(dome + 0.22 - (0.08 + 0.45 * s ** 1.3)) - F32(0.12 + 0.1 * s) * np.clip(post, 0, 1.2) ** 3
            _opacify(film, smooth((y - surface) * F32(1 / (0.05 + 0.05 * s))), 0.95 * half, 0.04)
        elif fd.name == "pneumothorax":
            gap = F32(0.03 + 0.12 * s) * smooth((F32(0.0) - y) * F32(1 / 0.6))
            rim = smooth((gap - film.d_wall) * F32(1 / 0.006)) * film.mask * (post < 0.3)
            film.air[w] += F32(0.25 * half) * rim
            film.marks[w] *= F32(1.0) - F32(0.6) * rim
            line = np.exp(-(((film.d_wall - gap) * F32(1 / 0.004)) ** 2)) * film.mask * (gap > 0.01)
            film.dens[w] += F32(0.04) * line
        elif fd.name in ("consolidation", "pneumonia", "atelectasis", "nodule", "mass", "fibrosis",
                         "pleural_thickening", "edema", "hernia", "emphysema"):
            _lesion(film, fd.name, s, half, rng, post, fd.side)
        elif fd.name == "support_devices":
            _devices(film, s, rng)


def _lesion(film: LateralFilm, name: str, s: float, half: float, rng: np.random.Generator,
            post: np.ndarray, side: str) -> None:
    a, g = film.anat, film.grid
    x, y, w = film.x, film.y, film.win
    hd, cx, dome = film.half_depth, film.cx, max(film.dome)
    hy = float(np.mean(a.hilum_y))
    if name == "consolidation":
        noise = Noise(int(rng.integers(2**31)), n=96)
        x0, y0 = cx + rng.uniform(-0.2, 0.3) * hd, rng.uniform(-0.1, dome - 0.15)
        r = 0.09 + 0.08 * s
        p = np.exp(-((x - F32(x0)) ** 2 + (y - F32(y0)) ** 2) * F32(1 / (r * r)))
        p = p * (F32(0.45) + F32(0.55) * smooth(F32(0.5) + F32(0.6) * noise(x, y, 16.0)))
        _opacify(film, p * film.mask, (0.45 + 0.35 * s) * half, 0.02)
    elif name == "pneumonia":  # the lobe the frontal film shows, bounded by the oblique fissure
        rng.integers(2**31)  # the frontal draws its texture seed first: keep the same sequence
        first = -1 if side in ("right", "both", "none") else 1
        lobe = str(rng.choice(["upper", "middle", "lower"] if first < 0 else ["upper", "lower"]))
        p0, p1 = np.array([cx + 0.3, -0.45]), np.array([cx - 0.3, dome])
        nrm = np.array([p1[1] - p0[1], -(p1[0] - p0[0])]) / np.hypot(*(p1 - p0))
        back = (x - F32(p0[0])) * F32(nrm[0]) + (y - F32(p0[1])) * F32(nrm[1])  # > 0: behind the fissure
        ext = 0.15 + 0.35 * s
        fissure = min(a.hilum_y) - 0.02
        if lobe == "lower":
            p = ramp(back, g.eps) * smooth((y - F32(dome - 0.05 - ext)) * F32(1 / 0.12))
        elif lobe == "middle" or first > 0:  # middle lobe / lingula: anterior wedge
            p = ramp(-back, g.eps) * ramp(y - F32(fissure), g.eps) * smooth((F32(fissure + 0.1 + ext) - y) * F32(10.0))
        else:
            p = ramp(-back, g.eps) * ramp(F32(fissure) - y, g.eps) * smooth((y - F32(fissure - ext)) * F32(1 / 0.12))
        _opacify(film, p * film.mask, (0.6 + 0.35 * s) * half, 0.04)
    elif name == "atelectasis":
        y0 = dome - rng.uniform(0.08, 0.2)
        d = segment_distance(x, y, (cx - 0.2, y0), (cx + 0.15, y0 + 0.04))
        p = F32(0.6) * np.exp(-((d * F32(1 / (0.01 + 0.01 * s + float(g.eps)))) ** 2))
        _opacify(film, p * film.mask, 0.9, 0.03)
    elif name in ("nodule", "mass"):
        r = 0.0125 + 0.025 * (s - 0.2) / 0.8 if name == "nodule" else 0.085 + 0.1 * (s - 0.2)
        x0, y0 = cx + rng.uniform(-0.4, 0.4) * hd, rng.uniform(-0.45, dome - 0.25)
        p = ball(x, y, x0, y0, r, g.eps)
        film.air[w] *= F32(1.0) - F32(0.35) * np.minimum(p * F32(1.5), F32(1.0))
        film.dens[w] += F32(0.05) * p
    elif name == "edema":
        wx, wy = 0.25 + 0.15 * s, 0.3 + 0.12 * s
        env = np.exp(-(((x - F32(cx)) * F32(1 / wx)) ** 2 + ((y - F32(hy)) * F32(1 / wy)) ** 2))
        _opacify(film, (F32(0.3 + 0.45 * s) * env + F32(0.12 * s)) * film.mask, 0.8, 0.03)
    elif name == "fibrosis":
        n1 = Noise(int(rng.integers(2**31)), n=128)
        freq = min(16.0, g.px / 5.0)
        net = smooth(F32(1.0) - np.abs(n1(x, y, freq)) / F32(0.3))
        env = smooth((y - F32(hy)) * F32(1 / 0.35)) * smooth(post * F32(2.0))
        film.dens[w] += (F32(0.03 + 0.07 * s) * net + F32(0.02 * s)) * env * film.mask
    elif name == "pleural_thickening":
        band = ramp(F32(0.012 + 0.025 * s) - film.d_wall, g.eps) * film.mask * (post > 0)
        _opacify(film, band, 0.9 * half, 0.04)
    elif name == "hernia":
        r = 0.06 + 0.05 * s
        x0, y0 = cx + 0.12, min(film.dome) - 0.02 - 0.5 * r
        d = F32(r) - np.sqrt((x - F32(x0)) ** 2 + (y - F32(y0)) ** 2)
        film.air[w] *= F32(1.0) - F32(0.8) * ramp(d, g.eps)
        film.air[w] += F32(0.4) * ramp(d - F32(0.008), g.eps) * ramp(F32(y0 + 0.1 * r) - y, g.eps)
    elif name == "emphysema":
        film.marks[w] *= F32(1.0 - 0.5 * s)


def _devices(film: LateralFilm, s: float, rng: np.random.Generator) -> None:
    a, g = film.anat, film.grid
    film.metal = np.zeros(g.shape, np.uint8) if film.metal is None else film.metal
    cx, hd, dome = film.cx, film.half_depth, max(film.dome)
    carina = min(a.hilum_y) - 0.1
    n = 1 + int(round(3 * s))
    kinds = list(rng.choice(["ett", "ngt", "ecg", "cvc"], size=min(n, 4), replace=False))
    if "ett" in kinds:
        pts = curve([(cx - 0.2, -1.5), (cx - 0.11, -0.9), (cx - 0.02, carina - 0.1)], 20)
        draw_polyline(film.metal, g, pts, 0.03, 90)
        draw_polyline(film.metal, g, pts + np.array([0.008, 0.0]), 0.005, 255)
    if "ngt" in kinds:
        pts = curve([(cx - 0.05, -1.5), (cx + 0.08, -0.6), (cx + 0.12, dome), (cx - 0.05, dome + 0.15),
                     (cx - 0.15, dome + 0.12)], 30)
        draw_polyline(film.metal, g, pts, 0.009, 200)
    if "cvc" in kinds:
        pts = curve([(cx - 0.05, -1.2), (cx - 0.1, -0.6), (cx - 0.12, carina + 0.08)], 20)
        draw_polyline(film.metal, g, pts, 0.007, 230)
    if "ecg" in kinds:
        for _ in range(3):
            x0 = cx + rng.choice([-1, 1]) * (hd + 0.08) + rng.normal(0, 0.03)
            y0 = rng.uniform(-0.6, 0.4)
            draw_circle(film.metal, g, (x0, y0), 0.022, 220, thickness=0.006)
            draw_circle(film.metal, g, (x0, y0), 0.007, 255)


def draw(spec: ImageSpec, anat: Anatomy, grid: Grid) -> LateralFilm:
    """Draw the lateral film of ``spec`` (``anat`` carries the patient's frontal geometry)."""
    sev = {f.name: f.severity / 5 for f in spec.findings}
    emph, aorta = sev.get("emphysema", 0.0), sev.get("aortic_elongation", 0.0)
    width = anat.thorax_width / 2
    half_depth = width * DEPTH_RATIO * (1 + 0.2 * emph)
    cx = 0.0
    domes = (anat.lungs[0].dome_y - 0.02, anat.lungs[1].dome_y)
    apex = anat.lungs[0].apex_y
    loc = grid.local(cx - half_depth - 0.1, cx + half_depth + 0.1, apex - 0.1, max(domes) + 0.45)
    z = np.zeros(grid.shape, F32)
    if loc is None:  # a film too shifted to show the chest: body only
        win, X, Y = (slice(0, 1), slice(0, 1)), grid.X[:1, :1], grid.Y[:1, :1]
    else:
        win, X, Y = loc
    cyl = 0.2
    d_wall = ellipse_distance(X, Y, cx + 0.02, cyl, half_depth, cyl - apex)
    film = LateralFilm(grid, anat, z, z.copy(), np.ones(grid.shape, F32), win, X, Y, d_wall,
                       np.zeros(X.shape, F32), cx, half_depth, domes)
    _base(film, emph)
    _mediastinum(film, float(np.sqrt(anat.ctr / 0.42)), aorta)  # heart area follows the frontal CTR
    _findings(spec, film)
    _markings(film)
    _bones(film)
    if not emph:  # gastric bubble; the flattened diaphragm of emphysema hides it
        gx, gy = cx - 0.1, domes[1] + 0.12
        loc = grid.local(gx - 0.1, gx + 0.1, gy - 0.08, gy + 0.08)
        if loc is not None:
            w2, X2, Y2 = loc
            gas = ramp(ellipse_distance(X2, Y2, gx, gy, 0.08, 0.05), grid.eps * 2)
            film.air[w2] += F32(0.3) * gas * ramp(F32(gy + 0.01) - Y2, grid.eps)
    if film.metal is not None:
        film.dens += film.metal.astype(F32) * F32(1.2 / 255)
    return film
