"""Geometry of a phantom film: the patient's anatomy, the film's positioning, finding-driven changes.

Coordinates are "anatomy units": x to the image right, y down, the origin near the carina level
at mid-thorax, 1 unit = half the film's shorter side at scale 1 (about 200 mm). On a frontal film
``side_sign`` -1 is the image left = the PATIENT's right (radiological convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxrinit.demo.cohort import FINDINGS, CHRONIC, ImageSpec

#: Heart magnification of an AP film relative to PA (the heart lies far from the detector).
AP_HEART_MAGNIFICATION = 1.08
#: Range of the true cardiothoracic ratio of a normal heart (PA); AP films multiply it.
NORMAL_CTR = (0.38, 0.455)


def side_sign(side: str) -> int:
    """Image-side sign of a patient side on a frontal film: right -> -1 (image left), left -> +1."""
    if side == "right":
        return -1
    if side == "left":
        return 1
    raise ValueError(f"side must be 'left' or 'right', got {side!r}")


def sides_of(side: str) -> tuple[int, ...]:
    """Image-side signs covered by a finding's ``side`` ("both" -> both; "none" -> both)."""
    return (-1, 1) if side in ("both", "none") else (side_sign(side),)


def finding_rng(spec: ImageSpec, name: str) -> np.random.Generator:
    """Randomness for one finding's layout: per patient for chronic findings, per study otherwise.

    Every film of a study (PA and lateral) therefore shows the lesion at the same place.
    """
    key = FINDINGS.index(name)
    scope = 0xC4 if name in CHRONIC else spec.study_index + 1
    return np.random.default_rng([spec.patient_seed, scope, key, 0x9F])


@dataclass(frozen=True)
class Lung:
    """One hemithorax on a frontal film (``sign`` -1 image left, +1 image right)."""

    sign: int
    width: float  # rib-cage half width at the widest level, from the midline
    center_y: float  # centre of the lateral/apical outline ellipse
    apex_y: float
    dome_y: float  # top of this hemidiaphragm
    dome_u: float  # lateral position of the dome top
    dome_k: float  # dome curvature (flattened by emphysema)
    medial_u: float  # mediastinal border of the lung

    @property
    def outline(self) -> tuple[float, float, float, float]:
        """Centre u, centre y, semi-axes (a, b) of the lateral/apical outline ellipse."""
        cu = 0.30
        return cu, self.center_y, self.width - cu, self.center_y - self.apex_y

    def dome(self, u: np.ndarray) -> np.ndarray:
        """y of the hemidiaphragm at lateral distance ``u``."""
        return self.dome_y + self.dome_k * (u - self.dome_u) ** 2

    @property
    def costophrenic_y(self) -> float:
        """y of the costophrenic angle (lowest lung point laterally)."""
        return float(self.dome(np.float32(self.width - 0.04)))


@dataclass(frozen=True)
class Anatomy:
    """Everything :func:`render` draws, as numbers; frontal geometry even for laterals."""

    view: str
    # film positioning and exposure (image_seed)
    rotation_deg: float
    shift: tuple[float, float]
    scale: float
    contrast: float
    brightness: float
    noise_sigma: float
    # anatomy (patient_seed, modified by findings)
    lungs: tuple[Lung, Lung]  # image left (patient right), image right (patient left)
    body_half_width: float
    heart_center: tuple[float, float]
    heart_axes: tuple[float, float]
    heart_tilt_deg: float
    heart_width: float  # horizontal extent of the heart shadow on this film
    thorax_width: float  # internal rib-cage width on this film
    mediastinal_shift: float
    knob_center: tuple[float, float]
    knob_radius: float
    spine_curve: float  # scoliosis amplitude (signed, units); 0 = straight
    rib_spacing: float
    rib_asymmetry: float
    breast: float  # 0 = none
    soft_tissue: float
    marking_seed: int
    hilum_y: tuple[float, float]

    @property
    def ctr(self) -> float:
        """Cardiothoracic ratio as it appears on this film (frontal geometry)."""
        return self.heart_width / self.thorax_width


def _solve_heart_axes(width: float, tilt: float) -> tuple[float, float]:
    """Semi-axes of a tilted ellipse whose horizontal extent is ``width``; height grows slowly."""
    c2, s2 = np.cos(tilt) ** 2, np.sin(tilt) ** 2
    a = width / 2
    for _ in range(8):
        b = 0.11 + 0.35 * a
        a = float(np.sqrt(max((width / 2) ** 2 - b * b * s2, 1e-6) / c2))
    return a, 0.11 + 0.35 * a


def anatomy(spec: ImageSpec) -> Anatomy:
    """The geometry of ``spec``'s film: deterministic for the spec (patient, film and findings)."""
    if spec.view not in ("PA", "AP", "LATERAL"):
        raise ValueError(f"image {spec.image_index}: view must be PA, AP or LATERAL, got {spec.view!r}")
    if spec.sex not in ("M", "F"):
        raise ValueError(f"image {spec.image_index}: sex must be 'M' or 'F', got {spec.sex!r}")
    p = np.random.default_rng([spec.patient_seed, 0xA7A])
    f = np.random.default_rng([spec.image_seed, 0xF11])
    ap = spec.view == "AP"

    def sev(name: str) -> float:
        fd = spec.finding(name)
        return 0.0 if fd is None else fd.severity / 5.0

    # --- the patient -------------------------------------------------------------------------
    size = p.uniform(0.95, 1.04) * (1.01 if spec.sex == "M" else 0.98)
    width = 0.74 * size
    asym = p.normal(0.0, 0.01)
    apex_y = -0.70 + p.normal(0.0, 0.02)
    center_y = 0.22 + p.normal(0.0, 0.02)
    dome_r = 0.27 + p.normal(0.0, 0.025)
    dome_gap = p.uniform(0.03, 0.07)  # left dome lower than right
    dome_k = p.uniform(0.85, 1.05)
    medial_u = p.uniform(0.11, 0.14)
    ctr = p.uniform(*NORMAL_CTR)
    rib_spacing = p.uniform(0.094, 0.106)
    breast = p.uniform(0.7, 1.15) if spec.sex == "F" else 0.0
    soft = p.uniform(0.09, 0.16)
    tilt = np.deg2rad(p.uniform(32, 42))
    knob_r = p.uniform(0.045, 0.06)
    marking_seed = int(p.integers(2**31))
    hilum_r, hilum_l = 0.02 + p.normal(0, 0.015), -0.03 + p.normal(0, 0.015)

    # --- the film ----------------------------------------------------------------------------
    rot_sd = 1.8 if ap else 1.0
    rotation = float(np.clip(f.normal(0.0, rot_sd), -3.5, 3.5))
    shift = (float(np.clip(f.normal(0, 0.02), -0.05, 0.05)), float(np.clip(f.normal(0, 0.02), -0.05, 0.05)))
    scale = float(f.uniform(0.96, 1.04)) * (1.03 if ap else 1.0)
    inspiration = float(np.clip(f.normal(0.0, 0.025), -0.06, 0.06))
    contrast = float(f.uniform(0.9, 1.1)) * (0.92 if ap else 1.0)
    brightness = float(f.normal(0.0, 0.03))
    noise_sigma = float(f.uniform(0.006, 0.012)) * (1.4 if ap else 1.0)

    domes = [dome_r + inspiration, dome_r + dome_gap + inspiration]
    if ap:  # supine / semi-erect: abdominal contents push the diaphragm up
        domes = [d - 0.045 for d in domes]
    medial = [medial_u * (1.12 if ap else 1.0)] * 2
    widths = [width * (1 - asym), width * (1 + asym)]
    shift_med = 0.0

    # --- findings that change the geometry ---------------------------------------------------
    s = sev("emphysema")
    if s:
        domes = [d + 0.05 + 0.07 * s for d in domes]
        dome_k *= 1.0 - 0.55 * s
        widths = [w * (1 + 0.04 * s) for w in widths]
        apex_y -= 0.02 * s
        ctr *= 1.0 - 0.12 * s
    s = sev("fibrosis")
    if s:
        domes = [d - 0.05 * s for d in domes]
        widths = [w * (1 - 0.03 * s) for w in widths]
    s = sev("atelectasis")
    if s:
        fd = spec.finding("atelectasis")
        for sg in sides_of(fd.side):
            domes[(sg + 1) // 2] -= 0.02 + 0.07 * s
        if fd.side in ("left", "right"):
            shift_med += side_sign(fd.side) * 0.03 * s  # mediastinum moves toward the collapse
    s = sev("pneumothorax")
    if s >= 0.8 and spec.finding("pneumothorax").side in ("left", "right"):  # type: ignore[union-attr]
        shift_med -= side_sign(spec.finding("pneumothorax").side) * 0.025 * s  # pushed away
    curve = 0.0
    s = sev("scoliosis")
    if s:
        curve = float(p.choice([-1.0, 1.0])) * (0.025 + 0.09 * s)
        widths = [widths[0] * (1 - 0.25 * curve), widths[1] * (1 + 0.25 * curve)]
        domes = [domes[0] + 0.2 * curve, domes[1] - 0.2 * curve]
    s = sev("cardiomegaly")
    if s:
        ctr = 0.525 + 0.14 * s + p.uniform(0.0, 0.02)

    knob = (medial[1] + 0.035, -0.36)
    s = sev("aortic_elongation")
    if s:
        knob_r *= 1.25 + 0.35 * s
        knob = (medial[1] + 0.045 + 0.06 * s, -0.38 - 0.06 * s)

    lungs = tuple(
        Lung(sign=sg, width=float(widths[i]), center_y=float(center_y), apex_y=float(apex_y),
             dome_y=float(domes[i]), dome_u=0.36 if sg < 0 else 0.40, dome_k=float(dome_k),
             medial_u=float(medial[i]))
        for i, sg in enumerate((-1, 1))
    )
    thorax_width = lungs[0].width + lungs[1].width
    heart_width = ctr * thorax_width * (AP_HEART_MAGNIFICATION if ap else 1.0)
    a, b = _solve_heart_axes(heart_width, tilt)
    # right heart border one third of the heart's width right of the midline (image left)
    x_right = -0.31 * heart_width + shift_med
    cx = x_right + heart_width / 2
    # the apex (widest point on the image right) sits just above the left hemidiaphragm
    low = (a * a - b * b) * np.sin(tilt) * np.cos(tilt) / (heart_width / 2)
    x_apex = cx + heart_width / 2
    cy = float(lungs[1].dome(np.float64(x_apex))) - 0.03 - low
    return Anatomy(
        view=spec.view, rotation_deg=rotation, shift=shift, scale=scale, contrast=contrast,
        brightness=brightness, noise_sigma=noise_sigma, lungs=lungs,  # type: ignore[arg-type]
        body_half_width=float(width + soft), heart_center=(float(cx), float(cy)), heart_axes=(a, b),
        heart_tilt_deg=float(np.rad2deg(tilt)), heart_width=float(heart_width),
        thorax_width=float(thorax_width), mediastinal_shift=float(shift_med),
        knob_center=(float(knob[0] + shift_med), float(knob[1])), knob_radius=float(knob_r),
        spine_curve=curve, rib_spacing=float(rib_spacing), rib_asymmetry=float(0.6 * curve),
        breast=float(breast), soft_tissue=float(soft), marking_seed=marking_seed,
        hilum_y=(float(hilum_r - 0.08), float(hilum_l - 0.08)),
    )
