"""DICOM files as radiography archives write them: 12-16 bit in 16-bit containers, MONOCHROME1
or 2, optional rescale, window or VOI LUT, raw or losslessly compressed pixel data.

The plan row carries every tag value; this module only assembles and encodes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    generate_uid,
)

from cxrinit.demo.cohort import ImageSpec
from cxrinit.demo.writers import jpeg_lossless
from cxrinit.demo.writers.acquisition import Renderer, acquire, quantize, render_checked
from cxrinit.demo.writers.common import cover

#: Plan value -> transfer syntax.
TRANSFER_SYNTAXES = {
    "explicit_le": ExplicitVRLittleEndian,
    "jpeg2000_lossless": JPEG2000Lossless,
    "jpeg_lossless": JPEGLosslessSV1,
}
SOP_CLASSES = {
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
}
_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root; seeded suffixes keep UIDs reproducible


def uid(*keys: object) -> str:
    """A UID derived from ``keys`` (same keys, same UID)."""
    return generate_uid(prefix=_UID_ROOT, entropy_srcs=[str(k) for k in keys])


def age_string(age: int) -> str:
    """DICOM AS value, e.g. 57 -> ``057Y``."""
    return f"{int(age):03d}Y"


def stored_values(x: np.ndarray, bits: int, photometric: str) -> np.ndarray:
    """Acquired [0, 1] film -> stored pixel values; MONOCHROME1 stores white as 0."""
    q = quantize(x, bits).astype(np.uint16)
    if photometric == "MONOCHROME1":
        q = np.uint16((1 << bits) - 1) - q
    elif photometric != "MONOCHROME2":
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, got {photometric!r}")
    return q


def window(lo: float, hi: float, bits: int, photometric: str, slope: float, intercept: float) -> tuple[float, float]:
    """Window centre/width (in rescaled units) that spans the recorded range [lo, hi]."""
    top = (1 << bits) - 1
    a, b = (lo, hi) if photometric == "MONOCHROME2" else (1 - hi, 1 - lo)
    centre = (a + b) / 2 * top
    width = (b - a) * top * 1.1
    return round(slope * centre + intercept, 1), round(slope * width, 1)


def _voi_lut_item(centre: float, width: float, bits: int) -> Dataset:
    n = 1 << bits
    v = np.arange(n, dtype=np.float64)
    lut = np.rint(65535.0 / (1.0 + np.exp(-4.0 * (v - centre) / max(width, 1.0)))).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [n, 0, 16]
    item.LUTExplanation = "SIGMOID"
    item.LUTData = lut.astype("<u2").tobytes()
    item["LUTData"].VR = "OW"  # one value per stored level; OW, as many vendors write it
    return item


def _present(v: object) -> bool:
    return v is not None and v != "" and not (isinstance(v, float) and math.isnan(v))


def dicom_bytes(row: Mapping, stored: np.ndarray | None) -> bytes:
    """The DICOM file for plan ``row``; ``stored=None`` writes every tag but no Pixel Data."""
    ts_name = str(row["transfer_syntax"])
    if ts_name not in TRANSFER_SYNTAXES:
        raise ValueError(f"unknown transfer_syntax {ts_name!r}; known: {', '.join(TRANSFER_SYNTAXES)}")
    bits = int(row["bits_stored"])
    rows, cols = int(row["height"]), int(row["width"])

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASSES[str(row["modality"])]
    meta.MediaStorageSOPInstanceUID = str(row["sop_instance_uid"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    if _present(row.get("study_date")):
        ds.StudyDate = str(row["study_date"])
    ds.Modality = str(row["modality"])
    ds.Manufacturer = str(row["manufacturer"])
    ds.PatientName = ""
    ds.PatientID = str(row["dicom_patient_id"])
    ds.PatientSex = str(row["dicom_sex"])
    ds.PatientAge = str(row["dicom_age"])
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = str(row["view_position"])
    ds.StudyInstanceUID = str(row["study_instance_uid"])
    ds.SeriesInstanceUID = str(row["series_instance_uid"])
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    spacing = f"{float(row['pixel_spacing']):.4f}"
    ds.PixelSpacing = [spacing, spacing]
    if ds.Modality == "DX":
        ds.ImagerPixelSpacing = [spacing, spacing]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = str(row["photometric"])
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if _present(row.get("rescale_slope")):
        ds.RescaleIntercept = f"{float(row['rescale_intercept']):g}"
        ds.RescaleSlope = f"{float(row['rescale_slope']):g}"
        ds.RescaleType = "US"
    voi = str(row.get("voi") or "")
    if voi == "window":
        ds.WindowCenter = f"{float(row['window_center']):g}"
        ds.WindowWidth = f"{float(row['window_width']):g}"
    elif voi == "lut":
        ds.VOILUTSequence = [_voi_lut_item(float(row["window_center"]), float(row["window_width"]), bits)]
    elif voi:
        raise ValueError(f"unknown voi {voi!r}; expected '', 'window' or 'lut'")

    if stored is not None:
        if stored.shape != (rows, cols) or stored.dtype != np.uint16:
            raise ValueError(f"{row['path']}: pixels {stored.dtype} {stored.shape}, expected uint16 {(rows, cols)}")
        ts = TRANSFER_SYNTAXES[ts_name]
        if ts == ExplicitVRLittleEndian:
            ds.PixelData = stored.tobytes()
            ds["PixelData"].VR = "OW"
        elif ts == JPEG2000Lossless:
            ds.compress(JPEG2000Lossless, stored, encoding_plugin="pylibjpeg", generate_instance_uid=False)
        else:
            ds.PixelData = encapsulate([jpeg_lossless.encode(stored, bits)])
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
            meta.TransferSyntaxUID = ts
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@dataclass(frozen=True)
class DicomStyle:
    """How one archive's DICOMs vary; probabilities per choice (normalised when drawn)."""

    bits: Mapping[int, float]
    photometric: Mapping[str, float]
    transfer_syntax: Mapping[str, float]
    voi: Mapping[str, float]  # "" none, "window" centre/width, "lut" VOI LUT Sequence
    rescale: float  # probability of a Rescale Slope/Intercept
    modality: Mapping[str, float]
    manufacturers: tuple[str, ...]
    field_mm: tuple[float, float] = (340.0, 430.0)  # detector height, sets Pixel Spacing


def _pick(gen: np.random.Generator, choices: Mapping, n: int) -> list:
    keys = list(choices)
    p = np.array([choices[k] for k in keys], dtype=float)
    return [keys[int(i)] for i in gen.choice(len(keys), size=n, p=p / p.sum())]


def plan_dicom(rows: list[dict], style: DicomStyle, gen: np.random.Generator, eligible: list[int]) -> None:
    """Add the DICOM encoding columns to plan ``rows`` (in place).

    Every option of ``style`` with a non-zero probability appears among the ``eligible``
    (readable) rows when there are enough of them, so a small demo still exercises each
    photometric interpretation, bit depth, transfer syntax and VOI variant.
    """
    n = len(rows)
    bits = cover(_pick(gen, style.bits, n), [k for k, p in style.bits.items() if p > 0], eligible, gen)
    photo = cover(_pick(gen, style.photometric, n), [k for k, p in style.photometric.items() if p > 0], eligible, gen)
    ts = cover(_pick(gen, style.transfer_syntax, n), [k for k, p in style.transfer_syntax.items() if p > 0],
               eligible, gen)
    voi = ["window" if v == "lut" and b > 14 else v for v, b in zip(_pick(gen, style.voi, n), bits)]
    # the sigmoid LUT has one entry per stored value, so it is only used up to 14 bits
    small = [i for i in eligible if bits[i] <= 14]
    voi = cover(voi, [k for k in ("lut",) if style.voi.get(k, 0) > 0], small, gen)
    voi = cover(voi, [k for k in ("", "window") if style.voi.get(k, 0) > 0], eligible, gen)
    rescale = [bool(gen.random() < style.rescale) and v != "lut" for v in voi]
    if style.rescale > 0:
        rescale = cover(rescale, [True, False], [i for i in eligible if voi[i] != "lut"], gen)
    # a cut-short compressed file reads as one without Pixel Data (pydicom drops the unfinished
    # fragment sequence), so truncated files keep raw pixel data and stay recognisably truncated
    ts = ["explicit_le" if row.get("broken") == "truncated" else t for row, t in zip(rows, ts)]
    modality = _pick(gen, style.modality, n)
    for i, row in enumerate(rows):
        slope, intercept = (float(gen.choice([0.5, 1.0, 2.0])), float(gen.choice([-1024.0, 0.0, 512.0]))) \
            if rescale[i] else (float("nan"), float("nan"))
        centre, width = window(row["lo"], row["hi"], bits[i], photo[i],
                               1.0 if not rescale[i] else slope, 0.0 if not rescale[i] else intercept)
        row.update(
            modality=modality[i],
            manufacturer=str(gen.choice(style.manufacturers)),
            bits_stored=int(bits[i]),
            photometric=photo[i],
            transfer_syntax=ts[i],
            voi=voi[i],
            rescale_slope=slope,
            rescale_intercept=intercept,
            window_center=centre if voi[i] else float("nan"),
            window_width=width if voi[i] else float("nan"),
            pixel_spacing=round(float(gen.uniform(*style.field_mm)) / row["height"], 4),
        )


#: Plan columns :func:`plan_dicom` adds, plus the identity columns writers set themselves.
DICOM_COLUMNS = (
    "modality", "manufacturer", "bits_stored", "photometric", "transfer_syntax", "voi", "rescale_slope",
    "rescale_intercept", "window_center", "window_width", "pixel_spacing", "view_position", "dicom_patient_id",
    "dicom_sex", "dicom_age", "study_date", "study_instance_uid", "series_instance_uid", "sop_instance_uid",
)


def radiograph(row: Mapping, spec: ImageSpec, render: Renderer) -> bytes:
    """Render, acquire and encode one plan row as DICOM (``no_pixel_data``: tags only)."""
    if row["broken"] == "no_pixel_data":
        return dicom_bytes(row, None)
    img = render_checked(render, spec, (int(row["height"]), int(row["width"])))
    x = acquire(img, dict(row), int(row["pixel_seed"]))
    return dicom_bytes(row, stored_values(x, int(row["bits_stored"]), str(row["photometric"])))
