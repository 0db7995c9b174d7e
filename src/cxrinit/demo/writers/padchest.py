"""PadChest (BIMCV) as downloaded.

Layout under the root::

    0/ … 54/<ImageID>.png          16-bit gray PNGs (a few of the numbered folders are used)
    PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv

The CSV has the release's 35 named columns in the release's order, preceded by the unnamed
row-number column the release carries. ``ImageID`` is ``<StudyID>_<suffix>.png`` with the two
id styles of the release (``2168401113669640…_02-059-087.png`` and ``1496801992…_3r162a.png``).
Pixel values fill ``BitsStored_DICOM`` bits of the 16-bit PNG; films whose
``PhotometricInterpretation_DICOM`` is MONOCHROME1 are stored inverted, as in the release.

``Labels`` is per study (one report) and written the way the release writes it: a Python list
literal of lower-case terms, with stray spaces (``' pneumonia'``), empty terms, a missing cell
now and then, and terms that defeat substring matching (``'subcutaneous emphysema'``,
``'soft tissue mass'``, ``'hiatal hernia'``). ``Projection`` takes every release value (PA, L,
AP, AP_horizontal, COSTAL, EXCLUDE, UNK); the answer key's ``view`` keeps the film's true view.
PadChest has no official split (``split`` is empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import acquisition, common, runner
from cxrinit.demo.writers.acquisition import Profile, Renderer

NAME = "padchest"
CSV_NAME = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
INDEX_COLUMN = ""  # the release's leading unnamed row-number column
COLUMNS: tuple[str, ...] = (
    "ImageID", "ImageDir", "StudyDate_DICOM", "StudyID", "PatientID", "PatientBirth", "PatientSex_DICOM",
    "ViewPosition_DICOM", "Projection", "MethodProjection", "Pediatric", "Modality_DICOM", "Manufacturer_DICOM",
    "PhotometricInterpretation_DICOM", "PixelRepresentation_DICOM", "PixelAspectRatio_DICOM",
    "SpatialResolution_DICOM", "BitsStored_DICOM", "WindowCenter_DICOM", "WindowWidth_DICOM", "Rows_DICOM",
    "Columns_DICOM", "XRayTubeCurrent_DICOM", "Exposure_DICOM", "ExposureInuAs_DICOM", "ExposureTime",
    "RelativeXRayExposure_DICOM", "ReportID", "Report", "MethodLabel", "Labels", "Localizations",
    "LabelsLocalizationsBySentence", "labelCUIS", "LocalizationsCUIS",
)
PROJECTIONS: tuple[str, ...] = ("PA", "L", "AP", "AP_horizontal", "COSTAL", "EXCLUDE", "UNK")
#: Report terms per phantom finding: alternatives, each a list of terms.
TERMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "cardiomegaly": (("cardiomegaly",),),
    "pleural_effusion": (("pleural effusion",), ("costophrenic angle blunting", "pleural effusion")),
    "pneumothorax": (("pneumothorax",),),
    "consolidation": (("consolidation",), ("alveolar pattern", "consolidation")),
    "pneumonia": (("pneumonia",), ("infiltrates", "pneumonia"), ("alveolar pattern", "pneumonia")),
    "atelectasis": (("atelectasis",), ("laminar atelectasis",)),
    "nodule": (("nodule",),),
    "mass": (("mass",),),
    "edema": (("pulmonary edema",), ("hilar congestion",), ("vascular redistribution", "pulmonary edema")),
    "emphysema": (("emphysema",), ("COPD signs", "emphysema")),
    "pleural_thickening": (("pleural thickening",), ("apical pleural thickening",)),
    "fibrosis": (("pulmonary fibrosis",),),
    "fracture": (("callus rib fracture",),),
    "hernia": (("hiatal hernia",),),
    "scoliosis": (("scoliosis",), ("kyphosis", "scoliosis")),
    "aortic_elongation": (("aortic elongation",),),
    "support_devices": (("NSG tube",), ("endotracheal tube",), ("pacemaker",),
                        ("central venous catheter via jugular vein",)),
}
#: Real terms that name something other than the finding their words suggest.
TRAPS: tuple[str, ...] = ("subcutaneous emphysema", "soft tissue mass")
SPANISH = {
    "cardiomegaly": "cardiomegalia", "pleural_effusion": "derrame pleural", "pneumothorax": "neumotorax",
    "consolidation": "consolidacion", "pneumonia": "neumonia", "atelectasis": "atelectasia", "nodule": "nodulo",
    "mass": "masa pulmonar", "edema": "edema pulmonar", "emphysema": "enfisema",
    "pleural_thickening": "engrosamiento pleural", "fibrosis": "fibrosis pulmonar", "fracture": "fractura costal",
    "hernia": "hernia de hiato", "scoliosis": "escoliosis", "aortic_elongation": "elongacion aortica",
    "support_devices": "sonda y dispositivos",
}
CUIS = {
    "cardiomegaly": "C0018800", "pleural effusion": "C0032227", "pneumothorax": "C0032326",
    "pneumonia": "C0032285", "atelectasis": "C0004144", "emphysema": "C0034067", "scoliosis": "C0036439",
    "hiatal hernia": "C0019291", "pulmonary edema": "C0034063", "pulmonary fibrosis": "C0034069",
}
BROKEN = ("truncated", "missing", "zero_bytes", "wrong_format")
PROFILE = Profile(height=(400, 480), width=(360, 440), gamma=(0.8, 1.3), noise=(0.003, 0.012), blur=(0.0, 0.8))


def _terms(spec: ImageSpec, gen: np.random.Generator) -> list[str]:
    terms: list[str] = []
    for f in spec.findings:
        options = TERMS[f.name]
        for t in options[int(gen.integers(len(options)))]:
            if t not in terms:
                terms.append(t)
    if not terms:
        terms = ["normal"]
    elif gen.random() < 0.1:
        terms.append("unchanged")
    return terms


def _fmt(terms: list[str]) -> str:
    return str(list(terms))


def _study_labels(studies: list[int], first: dict[int, ImageSpec], readable_studies: list[int],
                  gen: np.random.Generator) -> dict[int, tuple[list[str], str]]:
    """Per study: the clean terms and the Labels cell as written (quirks included)."""
    out: dict[int, tuple[list[str], str]] = {}
    quirk = {st: "" for st in studies}
    for st in studies:
        u = gen.random()
        quirk[st] = "space" if u < 0.15 else "empty" if u < 0.19 else "missing" if u < 0.21 else \
            "subcutaneous emphysema" if u < 0.24 else "soft tissue mass" if u < 0.27 else ""
    forced = ("space", "empty", "missing", *TRAPS)
    values = common.cover([quirk[st] for st in studies], forced,
                          [k for k, st in enumerate(studies) if st in readable_studies], gen)
    quirk = dict(zip(studies, values))
    for st in studies:
        terms = _terms(first[st], gen)
        q = quirk[st]
        if q in TRAPS:
            terms = [t for t in terms if t != "normal"] + [q]
        written = list(terms)
        if q == "space":
            written = [written[0] + " "] + [" " + t for t in written[1:]] if len(written) > 1 else [" " + written[0]]
        elif q == "empty":
            written.insert(int(gen.integers(len(written) + 1)), "")
        out[st] = (terms, "" if q == "missing" else _fmt(written))
    return out


def _study_id(gen: np.random.Generator, legacy: bool) -> str:
    return "2168401113669640" + common.digits(gen, 29) if legacy else common.digits(gen, int(gen.integers(37, 40)))


def _suffix(gen: np.random.Generator, legacy: bool) -> str:
    if legacy:
        a, b = gen.integers(0, 1000, 2)
        return f"0{int(gen.integers(1, 4))}-{a:03d}-{b:03d}"
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[int(i)] for i in gen.integers(0, len(alphabet), 6))


def plan(specs: Sequence[ImageSpec], seed: int, n_broken: int = 4, *, scale: float = 1.0) -> pd.DataFrame:
    """Decide every PadChest id, folder, header column and label cell (no pixels)."""
    common.check_specs(specs, NAME)
    gen = common.rng(seed, NAME)
    n = len(specs)
    folders = sorted(int(f) for f in gen.choice(55, size=min(55, max(2, n // 10)), replace=False))
    patient_ids = {p: common.digits(gen, int(gen.integers(37, 40))) for p in sorted({s.patient_index for s in specs})}
    births: dict[int, int] = {}
    study_ids: dict[int, str] = {}
    dates: dict[int, int] = {}
    first: dict[int, ImageSpec] = {}
    for s in specs:
        if s.study_index not in study_ids:
            legacy = bool(gen.random() < 0.5)
            study_ids[s.study_index] = _study_id(gen, legacy)
            day = np.datetime64("2009-01-01") + int(gen.integers(0, 365 * 8))
            dates[s.study_index] = int(str(day).replace("-", ""))
            first[s.study_index] = s
        births.setdefault(s.patient_index, dates[s.study_index] // 10000 - s.age)
    studies = list(study_ids)

    broken = common.assign_broken(n, BROKEN, n_broken, gen)
    readable = [i for i, k in enumerate(broken) if k == ""]
    readable_studies = sorted({specs[i].study_index for i in readable})
    labels = _study_labels(studies, first, readable_studies, gen)
    physician = {st: bool(gen.random() < 0.27) for st in studies}
    report_ids = {st: int(gen.integers(1_000, 5_000_000)) for st in studies}

    projection = [_projection(s, gen) for s in specs]
    projection = common.cover(projection, ["AP", "AP_horizontal"], [i for i in readable if specs[i].view == "AP"], gen)
    frontal = [i for i in readable if specs[i].view != "LATERAL"]
    projection = common.cover(projection, ["COSTAL", "EXCLUDE", "UNK"], frontal, gen)
    photometric = common.cover(["MONOCHROME1" if gen.random() < 0.15 else "MONOCHROME2" for _ in specs],
                               ["MONOCHROME1", "MONOCHROME2"], readable, gen)

    rows: list[dict] = []
    for i, s in enumerate(specs):
        st = s.study_index
        legacy = study_ids[st].startswith("2168401113669640")
        image_id = f"{study_ids[st]}_{_suffix(gen, legacy)}.png"
        acq = acquisition.draw(PROFILE, gen, scale)
        bits = int(gen.choice([12, 14, 16], p=[0.7, 0.15, 0.15]))
        windowed = gen.random() < 0.8
        terms, cell = labels[st]
        folder = folders[int(gen.integers(len(folders)))]
        rows.append({
            "spec_index": s.image_index, "path": f"{folder}/{image_id}", "native_id": image_id,
            "patient_id": patient_ids[s.patient_index], "study_id": study_ids[st], "view": s.view,
            "findings": common.findings_str(s), "broken": broken[i], "broken_detail": _detail(broken[i]), "split": "",
            "sex": s.sex, "age": s.age, **acq, "pixel_seed": common.derive_seed(seed, NAME, "pixels", s.image_index),
            "ImageID": image_id, "ImageDir": folder, "StudyDate_DICOM": dates[st], "StudyID": study_ids[st],
            "PatientID": patient_ids[s.patient_index], "PatientBirth": float(births[s.patient_index]),
            "PatientSex_DICOM": s.sex,
            "ViewPosition_DICOM": "" if gen.random() < 0.6 else {"PA": "PA", "AP": "AP", "LATERAL": "LL"}[s.view],
            "Projection": projection[i], "MethodProjection": "Manual review of DICOM fields", "Pediatric": "No",
            "Modality_DICOM": str(gen.choice(["CR", "DX"])),
            "Manufacturer_DICOM": str(gen.choice(["PhilipsMedicalSystems", "Philips Medical Systems", "SIEMENS"])),
            "PhotometricInterpretation_DICOM": photometric[i], "PixelRepresentation_DICOM": 0,
            "PixelAspectRatio_DICOM": "['1', '1']" if gen.random() < 0.5 else "",
            "SpatialResolution_DICOM": float(gen.choice([0.139, 0.143, 0.2])), "BitsStored_DICOM": bits,
            "WindowCenter_DICOM": float((1 << (bits - 1)) - 1) if windowed else np.nan,
            "WindowWidth_DICOM": float((1 << bits) - 1) if windowed else np.nan,
            "Rows_DICOM": acq["height"], "Columns_DICOM": acq["width"],
            "XRayTubeCurrent_DICOM": float(gen.integers(100, 500)) if gen.random() < 0.5 else np.nan,
            "Exposure_DICOM": float(gen.integers(1, 30)) if gen.random() < 0.5 else np.nan,
            "ExposureInuAs_DICOM": float(gen.integers(1000, 30000)) if gen.random() < 0.3 else np.nan,
            "ExposureTime": float(gen.integers(5, 200)) if gen.random() < 0.5 else np.nan,
            "RelativeXRayExposure_DICOM": float(gen.integers(100, 2000)) if gen.random() < 0.7 else np.nan,
            "ReportID": report_ids[st], "Report": _report(s),
            "MethodLabel": "Physician" if physician[st] else "RNN_model",
            "Labels": cell, **_localizations(s, terms),
            "labelCUIS": _fmt([CUIS[t] for t in terms if t in CUIS]) if cell else "",
        })
    return common.finish(rows, list(COLUMNS), NAME, 0)


def _projection(s: ImageSpec, gen: np.random.Generator) -> str:
    if s.view == "LATERAL":
        return "L"
    if s.view == "PA":
        return "PA"
    return "AP_horizontal" if gen.random() < 0.5 else "AP"


def _report(s: ImageSpec) -> str:
    if not s.findings:
        return "sin hallazgos patologicos ."
    side = {"left": " izquierdo", "right": " derecho", "both": " bilateral", "none": ""}
    return " ".join(f"{SPANISH[f.name]}{side[f.side]} ." for f in s.findings)


def _localizations(s: ImageSpec, terms: list[str]) -> dict[str, str]:
    locs = sorted({f"loc {f.side}" if f.side != "both" else "loc bilateral" for f in s.findings if f.side != "none"})
    by_sentence = [[t] for t in terms]
    if locs and by_sentence:
        by_sentence[0] = by_sentence[0] + locs
    return {
        "Localizations": _fmt(locs) if locs else "",
        "LabelsLocalizationsBySentence": str(by_sentence),
        "LocalizationsCUIS": "",
    }


def _detail(kind: str) -> str:
    return {
        "": "",
        "truncated": "PNG cut short inside the image data",
        "wrong_format": "JPEG data saved as .png",
        "missing": "listed in the labels CSV, file not present",
        "zero_bytes": "empty file",
    }[kind]


def _encode(row: dict, spec: ImageSpec, render: Renderer) -> bytes:
    img = acquisition.render_checked(render, spec, (int(row["height"]), int(row["width"])))
    x = acquisition.acquire(img, row, int(row["pixel_seed"]))
    if row["broken"] == "wrong_format":
        return acquisition.encode_jpeg(acquisition.quantize(x, 8), 90)
    bits = int(row["BitsStored_DICOM"])
    px = acquisition.quantize(x, bits).astype(np.uint16)
    if row["PhotometricInterpretation_DICOM"] == "MONOCHROME1":
        px = np.uint16((1 << bits) - 1) - px
    return acquisition.encode_png(px)


def write(plan: pd.DataFrame, specs: Sequence[ImageSpec], root: Path, render: Renderer, workers: int = 1) -> None:
    """Write the numbered PNG folders, then the labels CSV."""
    root = runner.check_inputs(plan, specs, root, NAME, BROKEN)
    runner.write_images(plan, specs, root, render, _encode, workers, NAME)
    table = plan.loc[:, list(COLUMNS)].reset_index(drop=True)
    table.insert(0, INDEX_COLUMN, range(len(table)))
    runner.put(root, CSV_NAME, runner.csv_bytes(table))
