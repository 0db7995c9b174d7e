"""Synthetic cohorts: who the demo patients are and what their films show.

A cohort is a flat list of :class:`ImageSpec`, one per radiograph. Patients carry
chronic findings across studies; acute findings are drawn per study, so every image
of a study shows the same findings (as MIMIC's study-level labels assume). The
renderer (:mod:`cxrinit.demo.phantom`) turns a spec into pixels; the writers turn
specs into each dataset's native files and labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: Findings the phantom can draw, with the default prevalence per study.
DEFAULT_PREVALENCE: dict[str, float] = {
    "cardiomegaly": 0.22,
    "pleural_effusion": 0.20,
    "pneumothorax": 0.08,
    "consolidation": 0.10,
    "pneumonia": 0.10,
    "atelectasis": 0.15,
    "nodule": 0.08,
    "mass": 0.06,
    "edema": 0.10,
    "emphysema": 0.06,
    "pleural_thickening": 0.06,
    "fibrosis": 0.05,
    "fracture": 0.05,
    "hernia": 0.03,
    "scoliosis": 0.05,
    "aortic_elongation": 0.06,
    "support_devices": 0.12,
}
FINDINGS: tuple[str, ...] = tuple(DEFAULT_PREVALENCE)

#: Findings that persist across a patient's studies.
CHRONIC = frozenset({"cardiomegaly", "emphysema", "fibrosis", "scoliosis", "aortic_elongation", "hernia"})
#: Findings that have a side (left / right / both); the others are "none".
LATERALIZED = frozenset(
    {"pleural_effusion", "pneumothorax", "consolidation", "pneumonia", "atelectasis", "nodule", "mass",
     "pleural_thickening", "fracture"}
)
#: Probability of severity 1 (subtle) .. 5 (gross) of a drawn finding.
DEFAULT_SEVERITY: tuple[float, ...] = (0.1, 0.2, 0.3, 0.25, 0.15)
VIEWS = ("PA", "AP", "LATERAL")
SIDES = ("left", "right", "both", "none")


@dataclass(frozen=True)
class Finding:
    """One finding on one film: ``side`` is the patient's side; ``severity`` 1 (subtle) .. 5 (gross)."""

    name: str
    side: str = "none"
    severity: int = 3

    def __post_init__(self) -> None:
        if self.name not in DEFAULT_PREVALENCE:
            raise ValueError(f"unknown finding {self.name!r}; known: {', '.join(FINDINGS)}")
        if self.side not in SIDES:
            raise ValueError(f"finding {self.name!r}: side must be one of {SIDES}, got {self.side!r}")
        if not 1 <= self.severity <= 5:
            raise ValueError(f"finding {self.name!r}: severity must be 1..5, got {self.severity}")


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to render one radiograph deterministically."""

    image_index: int  # position in the cohort, 0..N-1
    patient_index: int
    study_index: int  # position of the study among all studies of the cohort
    view: str  # PA, AP or LATERAL
    sex: str  # "M" or "F"
    age: int
    findings: tuple[Finding, ...] = field(default=())
    patient_seed: int = 0  # anatomy: the same for every film of a patient
    image_seed: int = 0  # positioning, exposure, noise: different for every film

    @property
    def names(self) -> frozenset[str]:
        """The finding names present on this film."""
        return frozenset(f.name for f in self.findings)

    def has(self, name: str, side: str | None = None) -> bool:
        """True if ``name`` is present (on ``side``, counting ``both`` as either side)."""
        for f in self.findings:
            if f.name == name and (side is None or f.side in (side, "both")):
                return True
        return False

    def finding(self, name: str) -> Finding | None:
        """The :class:`Finding` called ``name``, or ``None``."""
        return next((f for f in self.findings if f.name == name), None)


def _draw_finding(name: str, rng: np.random.Generator, severity: tuple[float, ...] = DEFAULT_SEVERITY) -> Finding:
    side = "none"
    if name in LATERALIZED:
        side = str(rng.choice(["left", "right", "both"], p=[0.4, 0.4, 0.2]))
    if name in ("nodule", "mass", "fracture", "pneumothorax") and side == "both":
        side = str(rng.choice(["left", "right"]))
    # one draw whatever the weights, so changing them changes severities only, not who has what
    level = int(rng.choice([1, 2, 3, 4, 5], p=list(severity)))
    return Finding(name, side, level)


def check_severity(severity: Sequence[float]) -> tuple[float, ...]:
    """``severity`` as probabilities of levels 1..5; ValueError unless 5 values >= 0 summing to 1."""
    values = tuple(float(v) for v in severity)
    if len(values) != 5 or any(not np.isfinite(v) or v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"severity must be 5 probabilities >= 0 (levels 1 subtle .. 5 gross) summing to 1, "
                         f"got {list(severity)}")
    return values


def sample_cohort(
    n_patients: int,
    seed: int,
    *,
    studies_per_patient: tuple[int, int] = (1, 3),
    images_per_study: tuple[int, int] = (1, 2),
    lateral_fraction: float = 0.25,
    ap_fraction: float = 0.3,
    prevalence: Mapping[str, float] | None = None,
    severity: Sequence[float] | None = None,
) -> list[ImageSpec]:
    """Draw ``n_patients`` patients with their studies and films, deterministically for ``seed``.

    ``studies_per_patient`` and ``images_per_study`` are inclusive ranges. The first film of a
    study is frontal (PA or AP); further films of the study are lateral with probability
    ``lateral_fraction``. ``prevalence`` overrides :data:`DEFAULT_PREVALENCE` per finding;
    ``severity`` overrides :data:`DEFAULT_SEVERITY` (probabilities of levels 1..5); changing it
    changes how visible findings are, never which films have them.
    """
    sev = DEFAULT_SEVERITY if severity is None else check_severity(severity)
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    prev = dict(DEFAULT_PREVALENCE)
    for name, p in (prevalence or {}).items():
        if name not in prev:
            raise ValueError(f"prevalence: unknown finding {name!r}; known: {', '.join(FINDINGS)}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"prevalence[{name!r}] must be in [0, 1], got {p}")
        prev[name] = float(p)

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0407]))
    specs: list[ImageSpec] = []
    study_index = 0
    for patient in range(n_patients):
        sex = "F" if rng.random() < 0.45 else "M"
        age = int(np.clip(rng.normal(60, 17), 18, 95))
        patient_seed = int(rng.integers(2**31))
        chronic = [_draw_finding(n, rng, sev) for n in sorted(CHRONIC) if rng.random() < prev[n]]
        for _ in range(int(rng.integers(studies_per_patient[0], studies_per_patient[1] + 1))):
            acute = [_draw_finding(n, rng, sev) for n in FINDINGS if n not in CHRONIC and rng.random() < prev[n]]
            findings = tuple(sorted(chronic + acute, key=lambda f: FINDINGS.index(f.name)))
            frontal = "AP" if rng.random() < ap_fraction else "PA"
            for k in range(int(rng.integers(images_per_study[0], images_per_study[1] + 1))):
                view = frontal if k == 0 or rng.random() >= lateral_fraction else "LATERAL"
                specs.append(
                    ImageSpec(
                        image_index=len(specs),
                        patient_index=patient,
                        study_index=study_index,
                        view=view,
                        sex=sex,
                        age=age,
                        findings=findings,
                        patient_seed=patient_seed,
                        image_seed=int(rng.integers(2**31)),
                    )
                )
            study_index += 1
    return specs
