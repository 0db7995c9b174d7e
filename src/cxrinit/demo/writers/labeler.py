"""The CheXpert report labeler's output (used by CheXpert and MIMIC-CXR): per study, each of the
14 observations is 1.0 (positive), 0.0 (negative), -1.0 (uncertain) or blank (not mentioned).

Reports mention most true findings, hedge on subtle ones, sometimes do not mention them, and
now and then hedge about something that is not there. "No Finding" is 1.0 only when nothing
else is positive or uncertain (Support Devices aside), otherwise blank.
"""

from __future__ import annotations

import numpy as np

from cxrinit.demo.cohort import ImageSpec

NAN = float("nan")
OBSERVATIONS: tuple[str, ...] = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices",
)
#: Which observations a report states for each phantom finding.
FINDING_OBSERVATIONS: dict[str, tuple[str, ...]] = {
    "cardiomegaly": ("Cardiomegaly", "Enlarged Cardiomediastinum"),
    "pleural_effusion": ("Pleural Effusion",),
    "pneumothorax": ("Pneumothorax",),
    "consolidation": ("Consolidation", "Lung Opacity"),
    "pneumonia": ("Pneumonia", "Lung Opacity"),
    "atelectasis": ("Atelectasis", "Lung Opacity"),
    "nodule": ("Lung Lesion",),
    "mass": ("Lung Lesion",),
    "edema": ("Edema", "Lung Opacity"),
    "pleural_thickening": ("Pleural Other",),
    "fracture": ("Fracture",),
    "aortic_elongation": ("Enlarged Cardiomediastinum",),
    "support_devices": ("Support Devices",),
}


def truth(spec: ImageSpec) -> dict[str, int]:
    """Severity (0 = absent) per observation, "No Finding" excluded."""
    sev = {o: 0 for o in OBSERVATIONS[1:]}
    for f in spec.findings:
        for o in FINDING_OBSERVATIONS.get(f.name, ()):
            sev[o] = max(sev[o], f.severity)
    return sev


def _no_finding(values: dict[str, float]) -> float:
    busy = any(v in (1.0, -1.0) for o, v in values.items() if o not in ("No Finding", "Support Devices"))
    return NAN if busy else 1.0


def noisy(spec: ImageSpec, gen: np.random.Generator) -> dict[str, float]:
    """What the labeler extracts from one study's report."""
    out: dict[str, float] = {}
    for o, s in truth(spec).items():
        if s:
            # subtle findings are hedged or left out more often
            p_unc = 0.30 - 0.05 * s
            p_blank = 0.10 - 0.015 * s
            u = gen.random()
            out[o] = -1.0 if u < p_unc else NAN if u < p_unc + p_blank else 1.0
        else:
            u = gen.random()
            out[o] = 0.0 if u < 0.15 else -1.0 if u < 0.18 else NAN
    return {"No Finding": _no_finding(out), **out}


def exact(spec: ImageSpec) -> dict[str, float]:
    """Expert-reviewed labels (CheXpert valid): 1.0 / 0.0 only."""
    out = {o: float(s > 0) for o, s in truth(spec).items()}
    out = {"No Finding": float(not any(v for o, v in out.items() if o != "Support Devices")), **out}
    return out
