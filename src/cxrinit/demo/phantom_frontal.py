"""Normal anatomy of a frontal (PA / AP) film, drawn as density and aeration fields.

A :class:`Film` accumulates ``dens`` (soft tissue, fluid, bone: brighter) and ``air`` (lung and
other gas: darker); :mod:`cxrinit.demo.phantom_findings` edits both between the soft tissue and the
bones, and :mod:`cxrinit.demo.phantom` turns them into display values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from cxrinit.demo.phantom_fields import (F32, Grid, Noise, ball, ellipse_distance, lut, ramp, segment_distance,
                                         smooth)
from cxrinit.demo.phantom_geometry import Anatomy, Lung

#: Posterior ribs drawn per side, counted from the first.
N_RIBS = 12


@dataclass
class LungField:
    """One lung on the canvas: its window and per-pixel fields there."""

    lung: Lung
    win: tuple[slice, slice]
    u: np.ndarray  # lateral distance from the midline, anatomy units
    y: np.ndarray
    d: np.ndarray  # signed distance to the lung border (positive inside)
    d_wall: np.ndarray  # signed distance to the lateral/apical chest wall only
    mask: np.ndarray  # soft inside indicator


@dataclass
class Film:
    """Accumulators of one frontal film."""

    grid: Grid
    anat: Anatomy
    dens: np.ndarray
    air: np.ndarray
    marks: np.ndarray  # multiplier on lung markings (0 = none, e.g. pleural air)
    lungs: dict[int, LungField] = field(default_factory=dict)
    heart: np.ndarray | None = None
    metal: np.ndarray | None = None  # uint8 layer of devices

    @classmethod
    def blank(cls, grid: Grid, anat: Anatomy) -> Film:
        z = np.zeros(grid.shape, F32)
        return cls(grid, anat, z, z.copy(), np.ones(grid.shape, F32))


def spine_x(anat: Anatomy, y: np.ndarray) -> np.ndarray:
    """Centre line of the spine: straight, or a C-curve for scoliosis."""
    if not anat.spine_curve:
        return np.zeros_like(y)
    return F32(anat.spine_curve) * np.sin(np.clip((y + F32(0.95)) * F32(np.pi / 1.55), 0.0, np.pi))


def body(film: Film) -> None:
    """Soft tissue of neck, shoulders, chest wall and upper abdomen (elliptic cross-section)."""
    a, X, Y = film.anat, film.grid.X, film.grid.Y
    wb = a.body_half_width
    ky = [-1.6, -1.02, -0.9, -0.8, -0.62, 0.2, 0.7, 1.6]
    kw = [0.2, 0.23, 0.5, wb + 0.1, wb + 0.07, wb, wb - 0.03, wb - 0.08]
    kt = [0.55, 0.6, 0.8, 0.95, 1.0, 1.0, 1.02, 1.02]
    half = lut(Y, ky, kw)
    thick = lut(Y, ky, kt)
    r = X / half
    film.dens += np.sqrt(np.clip(F32(1.0) - r * r, 0.0, 1.0)) * thick
    if a.breast:
        for sg in (-1, 1):
            loc = film.grid.local(sg * 0.45 - 0.4, sg * 0.45 + 0.4, -0.2, 0.75)
            if loc is None:
                continue
            win, x, y = loc
            cx, cy, rad = sg * 0.5 * (wb / 0.85), 0.06 + 0.03 * a.breast, 0.3 * a.breast
            dist = np.sqrt((x - F32(cx)) ** 2 + ((y - F32(cy)) * F32(1.15)) ** 2)
            # the inframammary fold is sharp; the shadow fades upward and medially
            fade = smooth((y - F32(cy - 0.2 * rad)) / F32(rad * 0.8)) * smooth(
                (F32(sg) * (x - F32(cx)) + F32(rad)) / F32(rad))
            shape = ramp(F32(rad) - dist, film.grid.eps * 3) * fade
            film.dens[win] += F32(0.1) * shape


def _medial_border(lung: Lung, a: Anatomy, y: np.ndarray) -> np.ndarray:
    """Mediastinal border of a lung: SVC on the right; aortic knob and descending aorta on the left."""
    med = F32(lung.medial_u) - F32(0.035) * smooth((F32(-0.5) - y) / F32(0.3))  # thoracic inlet
    if lung.sign > 0:
        kx, ky = a.knob_center
        r = a.knob_radius
        knob = F32(kx) + np.sqrt(np.clip(F32(r * r) - (y - F32(ky)) ** 2, 0.0, None))
        knob = np.where(np.abs(y - F32(ky)) < r, knob, F32(0.0))
        tort = (kx - lung.medial_u) * 0.6
        desc = F32(lung.medial_u + 0.015) + F32(tort) * np.sin(np.clip((y - F32(ky)) * F32(np.pi / 0.9), 0, np.pi))
        desc = np.where(y > ky, desc, F32(0.0))
        med = np.maximum(med, np.maximum(knob, desc))
    return med


def lungs(film: Film) -> None:
    """Both lung fields: aeration with a rounded depth profile, stored per side for findings."""
    a, g = film.anat, film.grid
    for lung in a.lungs:
        sg = lung.sign
        x_lo, x_hi = (-lung.width - 0.08, 0.05) if sg < 0 else (-0.05, lung.width + 0.08)
        x_lo, x_hi = x_lo + a.mediastinal_shift, x_hi + a.mediastinal_shift
        loc = g.local(x_lo, x_hi, lung.apex_y - 0.06, lung.costophrenic_y + 0.06)
        if loc is None:
            continue
        win, X, Y = loc
        u = F32(sg) * (X - F32(a.mediastinal_shift) * smooth((Y + F32(0.8)) / F32(0.6)))
        cu, cy, ea, eb = lung.outline
        d_wall = ellipse_distance(u, Y, cu, cy, ea, eb)
        du = u - F32(lung.dome_u)
        d_dia = (lung.dome(u) - Y) / np.sqrt(F32(1.0) + (F32(2 * lung.dome_k) * du) ** 2)
        d_med = u - _medial_border(lung, a, Y)
        d = np.minimum(np.minimum(d_wall, d_dia), d_med)
        m = ramp(d, g.eps)
        depth = F32(0.5) + F32(0.5) * (F32(1.0) - np.exp(-np.maximum(d, 0.0) * F32(1 / 0.09)))
        depth *= F32(0.8) + F32(0.2) * smooth((Y - F32(lung.apex_y)) / F32(0.7))
        film.air[win] += m * depth
        film.lungs[sg] = LungField(lung, win, u, Y, d, d_wall, m)


def heart_and_hila(film: Film) -> None:
    """Heart shadow (replaces lung), hilar vessels, and the heart mask."""
    a, g = film.anat, film.grid
    (cx, cy), (ha, hb) = a.heart_center, a.heart_axes
    r = max(ha, hb) + 0.03
    film.heart = np.zeros(g.shape, F32)
    loc = g.local(cx - r, cx + r, cy - r, cy + r)
    if loc is not None:
        win, X, Y = loc
        tilt = np.deg2rad(a.heart_tilt_deg)
        # below its widest point the heart rests on the diaphragm: extend it straight down
        low = (ha * ha - hb * hb) * np.sin(tilt) * np.cos(tilt) / (a.heart_width / 2)
        d = ellipse_distance(X, np.minimum(Y, F32(cy + low)), cx, cy, ha, hb, tilt)
        hm = ramp(d, g.eps * 1.5)
        film.air[win] *= F32(1.0) - F32(0.9) * hm
        above = Y < a.lungs[1].dome(np.abs(X)) + F32(0.02)
        film.heart[win] = hm * above
    # great vessels, oesophagus and fat between the lungs above the heart
    loc = g.local(-0.35, 0.35, -1.1, cy)
    if loc is not None:
        win, X, Y = loc
        xm = X - F32(a.mediastinal_shift) * smooth((Y + F32(0.8)) / F32(0.6))
        film.dens[win] += F32(0.06) * ramp(F32(a.lungs[0].medial_u + 0.02) - np.abs(xm), g.eps * 4) * smooth(
            (Y + F32(0.9)) * F32(4.0))
    for lung, hy in zip(a.lungs, a.hilum_y):
        hx = lung.sign * (lung.medial_u + 0.06) + a.mediastinal_shift
        loc = g.local(hx - 0.12, hx + 0.12, hy - 0.16, hy + 0.16)
        if loc is None:
            continue
        win, X, Y = loc
        lump = F32(0.6) + F32(0.4) * Noise(a.marking_seed + 7, n=32)(X, Y, 14.0)
        h = ball(X * F32(1.5), Y, hx * 1.5, hy, 0.1, g.eps) * lump
        film.dens[win] += F32(0.06) * h
        film.air[win] *= F32(1.0) - F32(0.25) * h


def _inside(lung: Lung, u: np.ndarray, y: np.ndarray, margin: float) -> np.ndarray:
    """Points (u, y) at least ``margin`` inside the lung outline (no mediastinal detail)."""
    cu, cy, ea, eb = lung.outline
    rho = np.sqrt(((u - cu) / (ea - margin)) ** 2 + ((y - cy) / (eb - margin)) ** 2)
    return (rho < 1.0) & (y < lung.dome(u) - margin) & (u > lung.medial_u + margin)


@lru_cache(maxsize=256)
def vessel_tree(seed: int, lung: Lung, hilum_y: float) -> tuple[np.ndarray, np.ndarray]:
    """Pulmonary vessels of one lung as segments ((N, 2, 2) in (u, y)) and their diameters (N,).

    Grown by a vectorized random walk out of the hilum: every generation all tips advance a step,
    taper, bend a little, and some split in two thinner daughters; tips leaving the lung stop.
    """
    rng = np.random.default_rng([seed, lung.sign + 2, 0xEE])
    n0 = 9
    ang = np.linspace(-1.45, 1.5, n0) + rng.normal(0, 0.1, n0)  # from up-lateral to down-medial
    pos = np.array([lung.medial_u + 0.05, hilum_y]) + rng.normal(0, 0.01, (n0, 2))
    diam = np.full(n0, 0.022)
    segs, diams = [], []
    step = 0.035
    for gen in range(30):
        ang = ang + rng.normal(0, 0.18, len(ang))
        new = pos + step * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        alive = _inside(lung, new[:, 0], new[:, 1], 0.025) & (diam > 0.003)
        segs.append(np.stack([pos[alive], new[alive]], axis=1))
        diams.append(diam[alive])
        pos, ang, diam = new[alive], ang[alive], diam[alive] * 0.93
        if len(pos) == 0:
            break
        idx = np.flatnonzero(rng.random(len(pos)) < (0.32 if gen > 1 else 0.0))
        da = rng.uniform(0.25, 0.5, len(idx))
        ang_a, diam_a = ang.copy(), diam.copy()
        ang_a[idx] -= da
        diam_a[idx] *= 0.78
        pos = np.concatenate([pos, pos[idx]])
        ang = np.concatenate([ang_a, ang[idx] + da])
        diam = np.concatenate([diam_a, diam[idx] * 0.72])
    out = np.concatenate(segs), np.concatenate(diams)
    for arr in out:  # cached and shared between films: read-only
        arr.flags.writeable = False
    return out


def draw_vessels(layer: np.ndarray, g: Grid, segs: np.ndarray, diam: np.ndarray, sign: int, x_shift: float,
                 min_diam: float = 0.0, thin: float = 1.0) -> None:
    """Segments in (u, y) of one side onto a uint8 layer; sub-pixel vessels fade instead of thinning."""
    keep = diam > min_diam
    segs, diam = segs[keep], diam[keep] * thin
    xy = segs.reshape(-1, 2).copy()
    xy[:, 0] = sign * xy[:, 0] + x_shift
    pix = np.round(g.to_pixels(xy) * 16).astype(np.int32).reshape(-1, 2, 2)
    px = diam * g.px
    width = np.maximum(1, np.round(px)).astype(int)
    value = (255 * np.minimum(1.0, px / 1.5) * np.minimum(1.0, 0.35 + diam / 0.02)) // 16 * 16 + 15
    for w, v in set(zip(width.tolist(), value.astype(int).tolist())):
        sel = (width == w) & (value == v)
        cv2.polylines(layer, list(pix[sel]), False, int(v), int(w), cv2.LINE_AA, 4)


def markings(film: Film) -> None:
    """Vessel trees out of the hila (denser near the hila), plus a faint interstitial texture."""
    a, g = film.anat, film.grid
    layer = np.zeros(g.shape, np.uint8)
    for sg, lf in film.lungs.items():
        segs, diam = vessel_tree(a.marking_seed, lf.lung, a.hilum_y[(sg + 1) // 2])
        draw_vessels(layer, g, segs, diam, sg, a.mediastinal_shift)
    fine = Noise(a.marking_seed + 1, n=128)
    for lf in film.lungs.values():
        vis = film.marks[lf.win] * np.minimum(film.air[lf.win] * F32(1.6), F32(1.0))
        tex = fine(lf.u, lf.y, 45.0, cubic=False)
        film.dens[lf.win] += (layer[lf.win].astype(F32) * F32(0.095 / 255) + F32(0.012) * tex) * vis


def _rib_band(t: np.ndarray, width: float, edge: float) -> np.ndarray:
    """Rib cross-section over a period phase ``t`` in [0, 1): cortex brighter than marrow."""
    band = smooth(t / F32(edge)) * smooth((F32(width) - t) / F32(edge))
    centre = np.abs(t * F32(2.0 / width) - F32(1.0))
    return band * (F32(0.65) + F32(0.35) * centre * centre)


def _rib_index(q: np.ndarray, q0: float, s0: float, grow: float) -> np.ndarray:
    """Continuous rib index of warped height ``q`` for spacing s0 * (1 + grow * k)."""
    c = F32(grow / 2)
    return (np.sqrt(F32(1.0) + F32(4.0) * c * np.maximum(q - F32(q0), 0.0) * F32(1 / s0)) - F32(1.0)) / (F32(2.0) * c)


def ribs(film: Film, fractures: dict[int, tuple[list[int], float, float]] | None = None) -> None:
    """Posterior ribs (curved arcs, one per vertebra) and faint anterior ribs, per side.

    ``fractures`` maps a side sign to (rib indices, lateral position u, step size): a fractured
    rib is broken there, its lateral part displaced and a lucent gap drawn.
    """
    a, g = film.anat, film.grid
    fractures = fractures or {}
    for lung in a.lungs:
        sg = lung.sign
        x_lo, x_hi = (-lung.width - 0.15, 0.02) if sg < 0 else (-0.02, lung.width + 0.15)
        loc = g.local(x_lo, x_hi, lung.apex_y - 0.15, 0.95)
        if loc is None:
            continue
        win, X, Y = loc
        u = F32(sg) * (X - spine_x(a, Y))
        spacing = a.rib_spacing * (1.0 + sg * a.rib_asymmetry)
        lat = np.maximum(u - F32(0.45), 0.0)
        q = Y - (F32(-0.12) * u + F32(0.42) * u * u + F32(2.2) * lat * lat)
        q0 = lung.apex_y - 0.1
        brk = fractures.get(sg)
        if brk is not None:
            idx, uf, step = brk
            k0 = _rib_index(q, q0, spacing, 0.05)
            sel = np.zeros_like(q)
            for k in idx:
                sel = np.maximum(sel, smooth(F32(1.0) - np.abs(k0 - F32(k + 0.2)) * F32(1.6)))
            side = smooth((u - F32(uf)) * F32(1 / 0.004))
            q = q - F32(step) * sel * side
            gap = np.exp(-(((u - F32(uf)) * F32(1 / 0.006)) ** 2)) * sel
        k = _rib_index(q, q0, spacing, 0.05)
        t = k - np.floor(k)
        post = _rib_band(t, 0.42, 0.07) * (k < N_RIBS)
        if brk is not None:
            post *= F32(1.0) - F32(0.9) * gap
        cu, cy, ea, eb = lung.outline
        cage = ramp(ellipse_distance(u, Y, cu, cy, ea + 0.05, eb + 0.05), g.eps * 2)
        medial = smooth((u - F32(0.03)) * F32(1 / 0.05))
        q2 = Y + F32(0.42) * (u - F32(lung.width))
        k2 = _rib_index(q2, lung.apex_y - 0.02, 0.125, 0.04)
        t2 = k2 - np.floor(k2)
        ant = _rib_band(t2, 0.42, 0.12) * (k2 < 6) * smooth((u - F32(0.3)) * F32(1 / 0.1))
        under = F32(1.0) - F32(0.65) * smooth((Y - lung.dome(u)) * F32(1 / 0.1))
        film.dens[win] += (F32(0.10) * post + F32(0.05) * ant) * cage * medial * under


def clavicles_scapulae_humeri(film: Film) -> None:
    """Shoulder girdle: clavicles (higher and flatter on AP), scapulae (over the lungs on AP), humeri."""
    a, g = film.anat, film.grid
    ap = a.view == "AP"
    y0, slope = (-0.73, -0.12) if ap else (-0.64, -0.26)
    for lung in a.lungs:
        sg = lung.sign
        loc = g.local(sg * 0.04 - 0.66, sg * 0.04 + 0.66, -1.0, -0.45)
        if loc is not None:
            win, X, Y = loc
            u = F32(sg) * X
            uu = u - F32(0.06)
            yc = F32(y0) + F32(slope) * uu + F32(0.035) * np.sin(uu * F32(np.pi / 0.3))
            dyc = F32(slope) + F32(0.035 * np.pi / 0.3) * np.cos(uu * F32(np.pi / 0.3))
            dist = np.abs(Y - yc) / np.sqrt(F32(1.0) + dyc * dyc)
            half = F32(0.021) + F32(0.008) * smooth((F32(0.12) - uu) * F32(10.0))  # medial head wider
            prof = np.sqrt(np.clip(F32(1.0) - (dist / half) ** 2, 0.0, 1.0))
            ends = smooth(uu * F32(1 / 0.02)) * smooth((F32(0.58) - uu) * F32(1 / 0.04))
            film.dens[win] += F32(0.2) * (prof + F32(0.6) * ramp(half - dist, g.eps) * (F32(1.0) - prof)) * ends
        # scapula: a thin triangular plate; its medial border crosses the lung on AP films
        tri = ((0.46, -0.76), (0.86, -0.78), (0.66, -0.06)) if ap else ((0.72, -0.8), (0.95, -0.74), (0.86, -0.12))
        pts = [(sg * x, y) for x, y in tri]
        loc = g.local(min(p[0] for p in pts) - 0.03, max(p[0] for p in pts) + 0.03, -0.85, 0.0)
        if loc is not None:
            win, X, Y = loc
            ds = []
            for i in range(3):
                (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % 3]
                nx, ny = y2 - y1, -(x2 - x1)
                nrm = np.hypot(nx, ny)
                (ox, oy) = pts[(i + 2) % 3]
                sgn = 1.0 if (ox - x1) * nx + (oy - y1) * ny > 0 else -1.0
                ds.append(((X - F32(x1)) * F32(sgn * nx / nrm) + (Y - F32(y1)) * F32(sgn * ny / nrm)))
            d = np.minimum(np.minimum(ds[0], ds[1]), ds[2])
            plate = ramp(d, g.eps * 2)
            rim = np.exp(-((ds[2] / F32(0.008)) ** 2)) * ramp(np.minimum(ds[0], ds[1]) + F32(0.01), g.eps)
            film.dens[win] += F32(0.05) * plate + F32(0.05) * rim
        hx, hy = sg * (a.body_half_width + 0.08), -0.74
        loc = g.local(hx - 0.14, hx + 0.14, hy - 0.14, hy + 0.3)
        if loc is not None:
            win, X, Y = loc
            film.dens[win] += F32(0.22) * ball(X, Y, hx, hy, 0.11, g.eps)


def spine(film: Film) -> None:
    """Vertebral column: bodies with disc spaces, pedicle rings, spinous processes."""
    a, g = film.anat, film.grid
    amp = abs(a.spine_curve)
    loc = g.local(-0.16 - amp, 0.16 + amp, -1.4, 1.4)
    if loc is None:
        return
    win, X, Y = loc
    dx = X - spine_x(a, Y)
    period = F32(a.rib_spacing * 1.08)
    k = (Y - F32(a.lungs[0].apex_y - 0.12)) / period
    t = k - np.floor(k)
    bodies = ramp(F32(0.075) - np.abs(dx), g.eps * 2) * (F32(0.55) + F32(0.45) * smooth(t * F32(8.0))
                                                         * smooth((F32(0.88) - t) * F32(8.0)))
    ped = np.sqrt(((np.abs(dx) - F32(0.05)) * F32(1 / 0.013)) ** 2 + ((t - F32(0.35)) * period * F32(1 / 0.02)) ** 2)
    ring = np.exp(-(((ped - F32(1.0)) * F32(2.5)) ** 2))
    spin = np.exp(-(dx * F32(1 / 0.01)) ** 2 - ((t - F32(0.65)) * F32(4.0)) ** 2)
    film.dens[win] += F32(0.07) * bodies + F32(0.025) * ring + F32(0.03) * spin


def airways_and_gas(film: Film) -> None:
    """Trachea, main bronchi, and the gastric bubble under the left hemidiaphragm."""
    a, g = film.anat, film.grid
    carina_y = min(a.hilum_y) - 0.1
    loc = g.local(-0.3, 0.3, -1.5, carina_y + 0.2)
    if loc is not None:
        win, X, Y = loc
        xt = F32(0.5) * spine_x(a, Y) + F32(0.5 * a.mediastinal_shift - 0.01) + F32(0.01) * (Y + F32(0.5))
        tube = ramp(F32(0.036) - np.abs(X - xt), g.eps * 1.5) * smooth((F32(carina_y) - Y) * F32(1 / 0.02))
        c = (0.5 * a.mediastinal_shift - 0.01, carina_y)
        rb = ramp(F32(0.022) - segment_distance(X, Y, c, (c[0] - 0.12, c[1] + 0.12)), g.eps)
        lb = ramp(F32(0.019) - segment_distance(X, Y, c, (c[0] + 0.15, c[1] + 0.09)), g.eps)
        film.air[win] += F32(0.28) * np.maximum(tube, np.maximum(rb, lb) * F32(0.8))
    if a.view == "PA":
        lung = a.lungs[1]
        cx, cy = 0.33, lung.dome_y + 0.1
        loc = g.local(cx - 0.12, cx + 0.12, cy - 0.1, cy + 0.1)
        if loc is not None:
            win, X, Y = loc
            d = ellipse_distance(X, Y, cx, cy, 0.09, 0.065)
            gas = ramp(d, g.eps * 2) * ramp(F32(cy + 0.01) - Y, g.eps)
            film.air[win] += F32(0.35) * gas
