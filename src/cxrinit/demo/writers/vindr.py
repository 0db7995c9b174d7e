"""VinDr-CXR (PhysioNet 1.0.0) as downloaded.

Layout under the root::

    train/<image_id>.dicom                    three readers per image
    test/<image_id>.dicom                     consensus labels
    annotations/image_labels_train.csv        image_id, rad_id, 28 labels; 3 rows per image
    annotations/image_labels_test.csv         image_id, 28 labels; 1 consensus row per image

``image_id`` is 32 hex digits. Frontal films only (lateral specs are skipped and counted).
Readers R1..R17 miss subtle findings and now and then call one that is not there, so they
disagree; at least one disagreement is guaranteed so majority voting is always exercised.
The DICOMs mix MONOCHROME1/2, 12/14/16 bits stored, rescale, window and VOI LUT, and raw,
JPEG 2000 Lossless and JPEG Lossless pixel data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import acquisition, common, dicom, runner
from cxrinit.demo.writers.acquisition import Profile, Renderer

NAME = "vindr"
LABELS: tuple[str, ...] = (
    "Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture", "Consolidation",
    "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity", "Lung cavity", "Lung cyst",
    "Mediastinal shift", "Nodule/Mass", "Pleural effusion", "Pleural thickening", "Pneumothorax",
    "Pulmonary fibrosis", "Rib fracture", "Other lesion", "COPD", "Lung tumor", "Pneumonia", "Tuberculosis",
    "Other diseases", "No finding",
)
#: Which VinDr labels a reader would tick for each phantom finding.
FINDING_LABELS: dict[str, tuple[str, ...]] = {
    "cardiomegaly": ("Cardiomegaly",),
    "pleural_effusion": ("Pleural effusion",),
    "pneumothorax": ("Pneumothorax",),
    "consolidation": ("Consolidation", "Lung Opacity"),
    "pneumonia": ("Pneumonia", "Lung Opacity"),
    "atelectasis": ("Atelectasis",),
    "nodule": ("Nodule/Mass",),
    "mass": ("Nodule/Mass", "Lung tumor"),
    "edema": ("Edema",),
    "emphysema": ("Emphysema", "COPD"),
    "pleural_thickening": ("Pleural thickening",),
    "fibrosis": ("Pulmonary fibrosis",),
    "fracture": ("Rib fracture",),
    "hernia": ("Other lesion",),
    "scoliosis": ("Other lesion",),
    "aortic_elongation": ("Aortic enlargement",),
    "support_devices": (),
}
BROKEN = ("no_pixel_data", "truncated", "wrong_format", "missing", "zero_bytes")
PROFILE = Profile(height=(512, 768), width=(512, 768), noise=(0.004, 0.015), blur=(0.0, 0.7))
STYLE = dicom.DicomStyle(
    bits={12: 0.5, 14: 0.3, 16: 0.2},
    photometric={"MONOCHROME2": 0.65, "MONOCHROME1": 0.35},
    transfer_syntax={"explicit_le": 0.6, "jpeg2000_lossless": 0.2, "jpeg_lossless": 0.2},
    voi={"": 0.35, "window": 0.45, "lut": 0.2},
    rescale=0.25,
    modality={"DX": 0.6, "CR": 0.4},
    manufacturers=("GE Healthcare", "Philips Medical Systems", "SIEMENS", "Carestream Health", "FUJIFILM Corporation"),
)
READERS = tuple(f"R{i}" for i in range(1, 18))
FALSE_POSITIVE = 0.006  # per reader, per label the film does not show


def _truth(spec: ImageSpec) -> dict[str, int]:
    """Severity (0 = absent) per VinDr label, "No finding" excluded."""
    sev = {lab: 0 for lab in LABELS[:-1]}
    for f in spec.findings:
        for lab in FINDING_LABELS[f.name]:
            sev[lab] = max(sev[lab], f.severity)
    return sev


def _read(truth: dict[str, int], gen: np.random.Generator) -> dict[str, int]:
    """One reader's ticks: subtle findings are missed more often, a few false calls."""
    out = {}
    for lab, s in truth.items():
        out[lab] = int(gen.random() < min(0.97, 0.55 + 0.09 * s)) if s else int(gen.random() < FALSE_POSITIVE)
    out["No finding"] = int(not any(out.values()))
    return out


def plan(specs: Sequence[ImageSpec], seed: int, n_broken: int = 4, *, scale: float = 1.0) -> pd.DataFrame:
    """Decide every VinDr file, id, split, reader label and DICOM encoding (no pixels)."""
    common.check_specs(specs, NAME)
    kept, skipped = common.keep_views(specs, ("PA", "AP"), NAME)
    gen = common.rng(seed, NAME)
    split_of = common.patient_splits([s.patient_index for s in kept], {"train": 0.8, "test": 0.2}, gen)
    patient_ids = {p: common.hex_id(gen, 16) for p in sorted(split_of)}
    study_uids: dict[int, str] = {}
    rows: list[dict] = []
    for s in kept:
        image_id = common.hex_id(gen, 16)
        split = split_of[s.patient_index]
        study_uids.setdefault(s.study_index, dicom.uid(seed, NAME, "study", s.study_index))
        truth = _truth(s)
        if split == "train":
            rads = [READERS[int(i)] for i in gen.choice(len(READERS), size=3, replace=False)]
            reads = [_read(truth, gen) for _ in rads]
        else:
            rads = []
            consensus = {lab: int(v > 0) for lab, v in truth.items()}
            consensus["No finding"] = int(not any(consensus.values()))
            reads = [consensus]
        row = {
            "spec_index": s.image_index, "path": f"{split}/{image_id}.dicom", "native_id": image_id,
            "patient_id": patient_ids[s.patient_index], "study_id": study_uids[s.study_index], "view": s.view,
            "findings": common.findings_str(s), "broken": "", "broken_detail": "", "split": split,
            "sex": s.sex, "age": s.age, **acquisition.draw(PROFILE, gen, scale),
            "pixel_seed": common.derive_seed(seed, NAME, "pixels", s.image_index),
            "view_position": s.view, "dicom_patient_id": patient_ids[s.patient_index], "dicom_sex": s.sex,
            # about one film in ten has no age in its header, as in the real archive
            "dicom_age": "" if gen.random() < 0.1 else dicom.age_string(s.age), "study_date": "",
            "study_instance_uid": study_uids[s.study_index],
            "series_instance_uid": dicom.uid(seed, NAME, "series", s.image_index),
            "sop_instance_uid": dicom.uid(seed, NAME, "sop", s.image_index),
            "rad_ids": "|".join(rads),
            **{lab: "|".join(str(r[lab]) for r in reads) for lab in LABELS},
        }
        rows.append(row)
    _ensure_disagreement(rows, gen)

    broken = common.assign_broken(len(rows), BROKEN, n_broken, gen)
    for row, kind in zip(rows, broken):
        row["broken"] = kind
        row["broken_detail"] = _detail(kind)
    readable = [i for i, k in enumerate(broken) if k == ""]
    dicom.plan_dicom(rows, STYLE, gen, readable)
    return common.finish(rows, [*dicom.DICOM_COLUMNS, "rad_ids", *LABELS], NAME, skipped)


def _ensure_disagreement(rows: list[dict], gen: np.random.Generator) -> None:
    train = [r for r in rows if r["split"] == "train"]
    if not train or any(len(set(r[lab].split("|"))) > 1 for r in train for lab in LABELS):
        return
    row = train[int(gen.integers(len(train)))]
    votes = [dict(zip(LABELS, (int(v) for v in vals))) for vals in
             zip(*(row[lab].split("|") for lab in LABELS))]
    positive = [lab for lab in LABELS[:-1] if votes[0][lab]]
    lab = positive[0] if positive else str(gen.choice(LABELS[:-1]))
    reader = int(gen.integers(3))
    votes[reader][lab] = 1 - votes[reader][lab]  # one reader misses it (or calls it)
    votes[reader]["No finding"] = int(not any(votes[reader][x] for x in LABELS[:-1]))
    for x in LABELS:
        row[x] = "|".join(str(v[x]) for v in votes)


def _detail(kind: str) -> str:
    return {
        "": "",
        "no_pixel_data": "DICOM header without Pixel Data",
        "truncated": "DICOM cut short inside Pixel Data",
        "wrong_format": "HTML error page saved as .dicom",
        "missing": "listed in the annotations, file not present",
        "zero_bytes": "empty file",
    }[kind]


def _encode(row: dict, spec: ImageSpec, render: Renderer) -> bytes:
    if row["broken"] == "wrong_format":
        return acquisition.ERROR_PAGE
    return dicom.radiograph(row, spec, render)


def write(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer, workers: int = 1) -> None:
    """Write the DICOMs, then ``annotations/image_labels_{train,test}.csv``."""
    root = runner.check_inputs(plan, specs, root, NAME, BROKEN)
    runner.write_images(plan, specs, root, render, _encode, workers, NAME)
    train = plan.loc[plan["split"] == "train"].sort_values("native_id", kind="stable")
    records = []
    for _, r in train.iterrows():
        votes = [r[lab].split("|") for lab in LABELS]
        for k, rad in enumerate(r["rad_ids"].split("|")):
            records.append({"image_id": r["native_id"], "rad_id": rad,
                            **{lab: int(v[k]) for lab, v in zip(LABELS, votes)}})
    train_csv = pd.DataFrame(records, columns=["image_id", "rad_id", *LABELS])
    test = plan.loc[plan["split"] == "test"].sort_values("native_id", kind="stable")
    test_csv = pd.DataFrame({"image_id": test["native_id"], **{lab: test[lab].astype(int) for lab in LABELS}},
                            columns=["image_id", *LABELS])
    runner.put(root, "annotations/image_labels_train.csv", runner.csv_bytes(train_csv))
    runner.put(root, "annotations/image_labels_test.csv", runner.csv_bytes(test_csv))
