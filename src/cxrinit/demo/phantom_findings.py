"""Findings on a frontal film: each edits the aeration / density fields of a :class:`Film`.

Findings that change the geometry (cardiomegaly, emphysema's low flat diaphragm, atelectasis'
volume loss, scoliosis, aortic elongation) are already in :func:`anatomy`; here they add only their
texture. Severity ``s`` is ``severity / 5`` (0.2 .. 1). Sides are image sides (see
:func:`~cxrinit.demo.phantom_geometry.side_sign`).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from cxrinit.demo.cohort import Finding, ImageSpec
from cxrinit.demo.phantom_fields import (F32, Noise, ball, curve, draw_circle, draw_polyline, ramp,
                                         segment_distance, smooth)
from cxrinit.demo.phantom_frontal import Film, LungField, draw_vessels, vessel_tree
from cxrinit.demo.phantom_geometry import finding_rng, side_sign

#: Findings drawn as a single lesion: side "both"/"none" becomes one side chosen at random.
SINGLE_SIDED = frozenset({"nodule", "mass", "pneumothorax", "fracture"})

Fractures = dict[int, tuple[list[int], float, float]]


def _sides(fd: Finding, rng: np.random.Generator) -> tuple[int, ...]:
    if fd.side in ("left", "right"):
        return (side_sign(fd.side),)
    if fd.name in SINGLE_SIDED:
        return (int(rng.choice([-1, 1])),)
    return (-1, 1)


def lesion_site(lf: LungField, rng: np.random.Generator, y_range: tuple[float, float] = (0.15, 0.85),
                u_range: tuple[float, float] = (0.25, 0.85)) -> tuple[float, float]:
    """A random (u, y) well inside the lung, as fractions of its height and width."""
    lung = lf.lung
    cu, cy, ea, eb = lung.outline
    for _ in range(64):
        u = lung.medial_u + rng.uniform(*u_range) * (lung.width - lung.medial_u)
        y = lung.apex_y + rng.uniform(*y_range) * (lung.dome_y - lung.apex_y)
        inside = ((u - cu) / (ea - 0.06)) ** 2 + ((y - cy) / (eb - 0.06)) ** 2 < 1 and y < lung.dome(u) - 0.06
        if inside:
            return float(u), float(y)
    return float(lung.medial_u + 0.5 * (lung.width - lung.medial_u)), float(0.5 * (lung.apex_y + lung.dome_y))


def _opacify(film: Film, lf: LungField, p: np.ndarray, air_loss: float, dens: float) -> None:
    """Replace aerated lung by tissue/fluid where ``p`` (0..1) is high; markings vanish there."""
    film.air[lf.win] *= F32(1.0) - F32(air_loss) * p
    film.dens[lf.win] += F32(dens) * p * lf.mask
    film.marks[lf.win] *= F32(1.0) - F32(0.8) * p


def effusion(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Basal homogeneous opacity with a meniscus climbing the lateral wall; blunted angle."""
    s = fd.severity / 5
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        lung = lf.lung
        top = lung.costophrenic_y - (0.04 + 0.4 * s ** 1.3)
        rise = 0.1 + 0.12 * s
        frac = np.clip((lf.u - F32(lung.medial_u)) * F32(1 / (lung.width - lung.medial_u)), 0.0, 1.2)
        surface = F32(top) - F32(rise) * np.exp((frac - F32(1.0)) * F32(1 / 0.22))  # climbs the lateral wall
        f = smooth((lf.y - surface) * F32(1 / (0.05 + 0.05 * s)))
        if film.anat.view == "AP":  # layering fluid also veils the whole hemithorax
            f = np.maximum(f, F32(0.25 * s) * lf.mask)
        _opacify(film, lf, f, 0.95, 0.05)


def pneumothorax(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Lucent rim without markings between chest wall and a visible pleural line; denser lung."""
    s = fd.severity / 5
    g = film.grid
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        gap = F32(0.03 + 0.16 * s) * (F32(0.35) + F32(0.65) * smooth((F32(0.4) - lf.y) * F32(1 / 0.9)))
        rim = smooth((gap - lf.d_wall) * F32(1 / 0.006)) * lf.mask
        collapsed = lf.mask * (F32(1.0) - rim)
        film.air[lf.win] = film.air[lf.win] * (F32(1.0) - F32(0.15 * s) * collapsed) * (F32(1.0) - rim) \
            + np.maximum(film.air[lf.win] * F32(1.15), F32(0.8)) * rim * lf.mask
        film.marks[lf.win] *= F32(1.0) - rim
        line = np.exp(-(((lf.d_wall - gap) * F32(1 / max(0.003, float(g.eps)))) ** 2)) * lf.mask
        film.dens[lf.win] += F32(0.06) * line


def consolidation(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Multifocal, ill-defined patchy airspace opacity (no sharp border, no bronchograms)."""
    s = fd.severity / 5
    noise = Noise(int(rng.integers(2**31)), n=96)
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        p = np.zeros_like(lf.u)
        for _ in range(1 + int(round(2 * s))):
            u0, y0 = lesion_site(lf, rng, (0.35, 0.9))
            r = 0.07 + 0.08 * s
            p = np.maximum(p, np.exp(-((lf.u - F32(u0)) ** 2 + (lf.y - F32(y0)) ** 2) * F32(1 / (r * r))))
        fluffy = p * (F32(0.45) + F32(0.55) * smooth(F32(0.5) + F32(0.6) * noise(lf.u, lf.y, 16.0)))
        _opacify(film, lf, fluffy * lf.mask, 0.45 + 0.35 * s, 0.02)


def pneumonia(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Lobar opacity: homogeneous, bounded by a sharp fissure on one side, with air bronchograms."""
    s = fd.severity / 5
    g, a = film.grid, film.anat
    noise = Noise(int(rng.integers(2**31)), n=64)
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        lung = lf.lung
        hy = a.hilum_y[(sg + 1) // 2]
        fissure = hy - 0.02
        lobes = ["upper", "middle", "lower"] if sg < 0 else ["upper", "lower"]
        lobe = str(rng.choice(lobes))
        ext = 0.15 + 0.4 * s
        if lobe == "upper" and sg < 0:  # right upper lobe: sharp lower edge at the horizontal fissure
            p = ramp(F32(fissure) - lf.y, g.eps) * smooth((lf.y - F32(fissure - ext)) * F32(1 / 0.12))
        elif lobe == "upper":  # lingula: against the left heart border, ill-defined
            p = smooth((F32(fissure + 0.1 + ext * 0.6) - lf.y) * F32(1 / 0.1)) * smooth(
                (lf.y - F32(fissure - 0.05)) * F32(1 / 0.1)) * smooth((F32(0.25 + ext) - lf.u) * F32(1 / 0.1))
        elif lobe == "middle":  # right middle lobe: sharp upper edge, effaces the right heart border
            p = ramp(lf.y - F32(fissure), g.eps) * smooth((F32(0.3 + 0.5 * ext) - lf.u) * F32(1 / 0.15))
        else:  # lower lobe: basal, fading upward
            p = smooth((lf.y - F32(lung.dome_y - 0.1 - ext)) * F32(1 / 0.14))
        p = p * lf.mask * (F32(0.85) + F32(0.15) * noise(lf.u, lf.y, 10.0))
        _opacify(film, lf, p, 0.6 + 0.35 * s, 0.05)
        layer = np.zeros(g.shape, np.uint8)
        segs, diam = vessel_tree(a.marking_seed + 3, lung, hy)
        draw_vessels(layer, g, segs, diam, sg, a.mediastinal_shift, min_diam=0.006, thin=0.6)
        film.air[lf.win] += F32(0.35 / 255) * layer[lf.win].astype(F32) * p


def atelectasis(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Plate-like basal bands (volume loss is in the geometry); gross: a lobar collapse triangle."""
    s = fd.severity / 5
    g, a = film.grid, film.anat
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        lung = lf.lung
        p = np.zeros_like(lf.u)
        for _ in range(1 + int(s > 0.5)):
            u0 = lung.medial_u + rng.uniform(0.3, 0.6) * (lung.width - lung.medial_u)
            y0 = lung.dome_y - rng.uniform(0.06, 0.2)
            half, tilt = rng.uniform(0.09, 0.17), rng.uniform(-0.25, 0.25)
            p0 = (u0 - half * np.cos(tilt), y0 - half * np.sin(tilt))
            p1 = (u0 + half * np.cos(tilt), y0 + half * np.sin(tilt))
            th = 0.006 + 0.01 * s
            dist = segment_distance(lf.u, lf.y, p0, p1)
            p = np.maximum(p, F32(0.6) * np.exp(-((dist * F32(1 / (th + float(g.eps)))) ** 2)))
        if s >= 0.8:  # collapsed lower lobe: triangle from the hilum to the medial diaphragm
            hy = a.hilum_y[(sg + 1) // 2]
            span = (lf.y - F32(hy)) * F32(1 / max(lung.dome_y - hy, 0.1))
            tri = ramp(F32(lung.medial_u) + F32(0.2) * span - lf.u, g.eps * 2) * (span > 0)
            p = np.maximum(p, tri)
        _opacify(film, lf, p * lf.mask, 0.9, 0.04)


def _round_lesion(film: Film, fd: Finding, rng: np.random.Generator, radius: float, lobulated: bool) -> None:
    g = film.grid
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        u0, y0 = lesion_site(lf, rng, (0.15, 0.75), (0.3, 0.8) if lobulated else (0.2, 0.9))
        if lobulated:
            du, dy = lf.u - F32(u0), lf.y - F32(y0)
            th = np.arctan2(dy, du)
            k1, k2 = rng.uniform(0, 2 * np.pi, 2)
            lob = F32(1.0) + F32(0.1) * np.cos(F32(3) * th + F32(k1)) + F32(0.06) * np.cos(F32(5) * th + F32(k2))
            dist = np.sqrt(du * du + dy * dy) / lob
            p = np.sqrt(np.clip(F32(1.0) - (dist * F32(1 / radius)) ** 2, 0.0, 1.0))
            p = np.maximum(p, ramp(F32(radius) - dist, g.eps) * F32(0.3))
        else:
            p = ball(lf.u, lf.y, u0, y0, radius, g.eps)
        # a lesion replaces a share of the lung along the ray that grows with its size
        loss = min(0.9, 0.3 + 6.0 * radius)
        film.air[lf.win] *= F32(1.0) - F32(loss) * np.minimum(p * F32(1.5), F32(1.0))
        film.dens[lf.win] += F32(0.06) * p
        film.marks[lf.win] *= F32(1.0) - np.minimum(p * F32(2.0), F32(1.0))


def nodule(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Small round opacity, 5-15 mm equivalent (radius 0.0125 .. 0.0375 units)."""
    _round_lesion(film, fd, rng, 0.0125 + 0.025 * (fd.severity - 1) / 4, lobulated=False)


def mass(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Large lobulated opacity, 34-66 mm equivalent (radius 0.085 .. 0.165 units)."""
    _round_lesion(film, fd, rng, 0.085 + 0.02 * (fd.severity - 1), lobulated=True)


def edema(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Bilateral perihilar (bat-wing) haze, blurred vessels; Kerley B lines when resolvable."""
    s = fd.severity / 5
    g, a = film.grid, film.anat
    for sg, lf in film.lungs.items():
        hy = a.hilum_y[(sg + 1) // 2]
        hu = lf.lung.medial_u + 0.03
        wu, wy = 0.22 + 0.2 * s, 0.26 + 0.14 * s
        env = np.exp(-(((lf.u - F32(hu)) * F32(1 / wu)) ** 2 + ((lf.y - F32(hy)) * F32(1 / wy)) ** 2))
        p = (F32(0.35 + 0.5 * s) * env + F32(0.15 * s)) * lf.mask
        _opacify(film, lf, p, 0.85, 0.03)
        spacing = 0.022
        base = smooth((lf.y - F32(hy + 0.12)) * F32(1 / 0.1)) * smooth((F32(0.07) - lf.d_wall) * F32(1 / 0.02))
        if spacing * g.px >= 5:  # thinner than a pixel they would alias; the haze carries the signal
            t = lf.y * F32(1 / spacing)
            t = t - np.floor(t)
            lines = np.exp(-(((t - F32(0.5)) * F32(spacing / 0.003)) ** 2))
            film.dens[lf.win] += F32(0.05 * s) * lines * base * lf.mask
        film.dens[lf.win] += F32(0.012 * s) * base * lf.mask


def emphysema(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Hyperlucent lungs with sparse peripheral vessels (hyperinflation is in the geometry); bullae."""
    s = fd.severity / 5
    g = film.grid
    for sg, lf in film.lungs.items():
        film.air[lf.win] *= F32(1.0) + F32(0.2 * s) * lf.mask
        film.marks[lf.win] *= F32(1.0) - F32(0.6 * s) * smooth((F32(0.25) - lf.d) * F32(1 / 0.15) + F32(0.5))
        if s >= 0.6:
            u0, y0 = lesion_site(lf, rng, (0.05, 0.3), (0.4, 0.8))
            r = 0.05 + 0.05 * s
            dist = np.sqrt((lf.u - F32(u0)) ** 2 + (lf.y - F32(y0)) ** 2)
            inside = ramp(F32(r) - dist, g.eps) * lf.mask
            film.air[lf.win] += F32(0.08) * inside
            film.marks[lf.win] *= F32(1.0) - inside
            film.dens[lf.win] += F32(0.03) * np.exp(-(((dist - F32(r)) * F32(1 / 0.004)) ** 2)) * lf.mask


def pleural_thickening(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Irregular peripheral pleural band along the lateral wall and apex."""
    s = fd.severity / 5
    g = film.grid
    noise = Noise(int(rng.integers(2**31)), n=48)
    for sg in _sides(fd, rng):
        lf = film.lungs.get(sg)
        if lf is None:
            continue
        th = F32(0.012 + 0.03 * s) * (F32(1.0) + F32(0.45) * noise(lf.u, lf.y, 5.0))
        band = ramp(th - lf.d_wall, g.eps) * lf.mask * smooth((F32(lf.lung.dome_y) - lf.y) * F32(1 / 0.2))
        _opacify(film, lf, band, 0.9, 0.04)


def fibrosis(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Reticular (net-like) lines, basal and subpleural; volume loss is in the geometry."""
    s = fd.severity / 5
    g, a = film.grid, film.anat
    n1, n2 = Noise(int(rng.integers(2**31)), n=128), Noise(int(rng.integers(2**31)), n=128)
    freq = min(16.0, g.px / 5.0)  # keep the net at >= ~5 px per cell, else it aliases
    for sg, lf in film.lungs.items():
        hy = a.hilum_y[(sg + 1) // 2]
        env = smooth((lf.y - F32(hy - 0.05)) * F32(1 / 0.35)) * smooth((F32(0.3) - lf.d_wall) * F32(1 / 0.2))
        w = F32(0.3)
        net = smooth(F32(1.0) - np.abs(n1(lf.u, lf.y, freq)) / w) + smooth(F32(1.0) - np.abs(n2(lf.u, lf.y, freq)) / w)
        film.dens[lf.win] += (F32(0.03 + 0.08 * s) * np.minimum(net, F32(1.0)) + F32(0.02 * s)) * env * lf.mask
        film.air[lf.win] *= F32(1.0) - F32(0.3 * s) * env * lf.mask


def fracture(film: Film, fd: Finding, rng: np.random.Generator) -> Fractures:
    """Rib fractures: which ribs break, where and by how much (drawn by the rib renderer)."""
    s = fd.severity / 5
    out: Fractures = {}
    for sg in _sides(fd, rng):
        first = int(rng.integers(3, 8))
        count = 1 + int(s > 0.5) + int(s > 0.9)
        width = film.anat.lungs[(sg + 1) // 2].width
        out[sg] = (list(range(first, first + count)), float(rng.uniform(0.5, 0.85) * width), 0.006 + 0.022 * s)
    return out


def hernia(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Hiatal hernia: retrocardiac round soft-tissue mass containing a gas bubble with a level."""
    s = fd.severity / 5
    g, a = film.grid, film.anat
    r = 0.06 + 0.05 * s
    cx, cy = 0.04 + a.mediastinal_shift, a.lungs[1].dome_y - 0.02 - 0.5 * r
    loc = g.local(cx - r - 0.02, cx + r + 0.02, cy - r - 0.02, cy + r + 0.02)
    if loc is None:
        return
    win, X, Y = loc
    d = F32(r) - np.sqrt((X - F32(cx)) ** 2 + (Y - F32(cy)) ** 2)
    inside = ramp(d, g.eps)
    level = cy + r * rng.uniform(-0.1, 0.3)
    gas = ramp(d - F32(0.008), g.eps) * ramp(F32(level) - Y, g.eps)
    film.air[win] *= F32(1.0) - F32(0.9) * inside
    film.air[win] += F32(0.4) * gas
    film.dens[win] += F32(0.03) * np.exp(-((d * F32(1 / 0.006)) ** 2))


def aortic_elongation(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Calcified rim of the (already enlarged and elevated) aortic knob."""
    g, a = film.grid, film.anat
    (kx, ky), r = a.knob_center, a.knob_radius
    loc = g.local(kx - r - 0.02, kx + r + 0.02, ky - r - 0.02, ky + r + 0.02)
    if loc is None or fd.severity < 3:
        return
    win, X, Y = loc
    d = np.sqrt((X - F32(kx)) ** 2 + (Y - F32(ky)) ** 2) - F32(r - 0.008)
    arc = np.exp(-((d * F32(1 / 0.005)) ** 2)) * (Y < F32(ky)) * (X > F32(kx - 0.3 * r))
    film.dens[win] += F32(0.08) * arc


def support_devices(film: Film, fd: Finding, rng: np.random.Generator) -> None:
    """Tubes, lines, ECG electrodes and pacemakers as thin bright lines and small circles."""
    s = fd.severity / 5
    g, a = film.grid, film.anat
    film.metal = np.zeros(g.shape, np.uint8) if film.metal is None else film.metal
    layer = film.metal
    kinds = ["ett", "cvc", "ngt", "ecg", "pacer"]
    n = min(len(kinds), 1 + int(round(3 * s)))
    chosen = rng.choice(kinds, size=n, replace=False, p=[0.25, 0.25, 0.2, 0.2, 0.1])
    carina = min(a.hilum_y) - 0.1
    sh = a.mediastinal_shift
    if "ett" in chosen:
        tip = carina - rng.uniform(0.05, 0.14)
        pts = curve([(sh - 0.03, -1.5), (sh - 0.015, -0.9), (sh - 0.01, tip)], 20)
        draw_polyline(layer, g, pts, 0.03, 90)
        draw_polyline(layer, g, pts + np.array([0.009, 0.0]), 0.005, 255)
    if "ngt" in chosen:
        dome = a.lungs[1].dome_y
        pts = curve([(sh + 0.01, -1.5), (sh + 0.03, -0.5), (sh + 0.05, dome), (0.25, dome + 0.14),
                     (0.36, dome + 0.1), (0.3, dome + 0.05)], 40)
        draw_polyline(layer, g, pts, 0.009, 200)
    if "cvc" in chosen:
        tipy = carina + rng.uniform(0.02, 0.12)
        if rng.random() < 0.6:  # right internal jugular
            pts = curve([(-0.25, -1.2), (-0.14, -0.75), (-0.07, -0.5), (-0.06, tipy)], 30)
        else:  # left subclavian
            pts = curve([(0.7, -0.72), (0.3, -0.64), (0.05, -0.56), (-0.06, -0.4), (-0.06, tipy)], 30)
        draw_polyline(layer, g, pts, 0.007, 230)
    if "ecg" in chosen:
        spots = [(-0.55, -0.62), (0.55, -0.62), (0.6, 0.45), (-0.6, 0.5), (0.1, 0.35)]
        for x, y in spots[: 3 + int(rng.integers(0, 3))]:
            x, y = x + rng.normal(0, 0.04), y + rng.normal(0, 0.04)
            draw_circle(layer, g, (x, y), 0.022, 220, thickness=0.006)
            draw_circle(layer, g, (x, y), 0.007, 255)
            out = (np.sign(x) * 1.2, y + rng.uniform(-0.3, 0.3))
            pts = curve([(x, y), ((x + out[0]) / 2, (y + out[1]) / 2 + rng.normal(0, 0.08)), out], 20)
            draw_polyline(layer, g, pts, 0.004, 160)
    if "pacer" in chosen:
        gx, gy = 0.5, -0.6
        box = np.array([(gx - 0.07, gy - 0.045), (gx + 0.07, gy - 0.045), (gx + 0.07, gy + 0.045),
                        (gx - 0.07, gy + 0.045)])
        pix = np.round(g.to_pixels(box) * 16).astype(np.int32)
        cv2.fillPoly(layer, [pix.reshape(-1, 1, 2)], 255, cv2.LINE_AA, 4)
        (hx, hy), hw = a.heart_center, a.heart_width
        for end in ((-0.05, hy - 0.15), (hx + 0.25 * hw, hy + 0.12)):
            pts = curve([(gx - 0.05, gy), (0.2, -0.62), (-0.04, -0.4), end], 30)
            draw_polyline(layer, g, pts, 0.006, 255)


_FINDERS: dict[str, Callable[[Film, Finding, np.random.Generator], object]] = {
    "pleural_effusion": effusion, "pneumothorax": pneumothorax, "consolidation": consolidation,
    "pneumonia": pneumonia, "atelectasis": atelectasis, "nodule": nodule, "mass": mass, "edema": edema,
    "emphysema": emphysema, "pleural_thickening": pleural_thickening, "fibrosis": fibrosis,
    "fracture": fracture, "hernia": hernia, "aortic_elongation": aortic_elongation,
    "support_devices": support_devices,
}
#: Drawn entirely through the geometry (see :func:`~cxrinit.demo.phantom_geometry.anatomy`).
GEOMETRIC = frozenset({"cardiomegaly", "scoliosis"})


def apply(spec: ImageSpec, film: Film) -> Fractures:
    """Draw every finding of ``spec`` on ``film``; return the rib fractures for the rib renderer."""
    fractures: Fractures = {}
    # effusions last among the lung findings so fluid covers what lies behind it
    order = sorted(spec.findings, key=lambda f: (f.name == "pleural_effusion", f.name == "support_devices"))
    for fd in order:
        if fd.name in GEOMETRIC:
            continue
        out = _FINDERS[fd.name](film, fd, finding_rng(spec, fd.name))
        if fd.name == "fracture":
            fractures = out  # type: ignore[assignment]
    return fractures
