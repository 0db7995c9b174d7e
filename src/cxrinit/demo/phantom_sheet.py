"""A labelled contact sheet of example phantom films, for eyeballing the renderer (and docs).

    python -m cxrinit.demo.phantom_sheet /tmp/phantom_sheet.png
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import cv2
import numpy as np

from cxrinit.demo.cohort import FINDINGS, LATERALIZED, Finding, ImageSpec
from cxrinit.demo.phantom import render


def examples(severity: int = 4, patient_seed: int = 3, image_seed: int = 2) -> list[tuple[str, ImageSpec]]:
    """Normal PA (male, female), AP, each finding alone (right side where it has one), laterals."""

    def spec(view: str = "PA", findings: tuple[Finding, ...] = (), sex: str = "M", ps: int = patient_seed) -> ImageSpec:
        return ImageSpec(0, 0, 0, view, sex, 60, findings, ps, image_seed)

    out = [("normal PA", spec()), ("normal PA F", spec(sex="F", ps=patient_seed + 4)), ("normal AP", spec("AP"))]
    for name in FINDINGS:
        side = "right" if name in LATERALIZED else "none"
        out.append((f"{name} ({side[0].upper()})" if side != "none" else name,
                    spec(findings=(Finding(name, side, severity),))))
    out.append(("AP: effusion+devices", spec("AP", (Finding("pleural_effusion", "both", 3),
                                                    Finding("support_devices", "none", 4)))))
    out.append(("lateral normal", spec("LATERAL")))
    out.append(("lateral cardiomegaly+eff", spec("LATERAL", (Finding("cardiomegaly", "none", 4),
                                                             Finding("pleural_effusion", "both", 4)))))
    return out


def contact_sheet(items: Sequence[tuple[str, ImageSpec]], tile: int = 256, cols: int = 6) -> np.ndarray:
    """Render each (label, spec) at ``tile`` x ``tile`` into one labelled uint8 grid image."""
    if not items:
        raise ValueError("contact_sheet: no items to render")
    tiles = []
    for label, spec in items:
        img = (render(spec, (tile, tile)) * 255).astype(np.uint8)
        cv2.putText(img, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, tile / 640, 255, 1, cv2.LINE_AA)
        tiles.append(img)
    while len(tiles) % cols:
        tiles.append(np.zeros((tile, tile), np.uint8))
    return np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "phantom_sheet.png"
    if not cv2.imwrite(path, contact_sheet(examples())):
        raise SystemExit(f"could not write {path}: check the folder exists and the suffix is .png")
    print(path)
