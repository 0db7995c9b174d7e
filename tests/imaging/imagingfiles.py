"""Small crafted image files for the imaging tests (no network, no large data)."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def chest_like(height: int, width: int, seed: int = 0, levels: float = 1.0) -> np.ndarray:
    """Smooth float32 image in [0, levels]: gradient, bright body, two dark lungs, a few blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= height
    xx /= width
    img = 0.2 + 0.2 * yy + 0.3 * ((((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.5) ** 2) < 1)
    for cx in (0.3, 0.7):
        img -= 0.3 * np.exp(-((((xx - cx) / 0.15) ** 2 + ((yy - 0.45) / 0.28) ** 2) ** 2))
    for _ in range(6):
        cy, cx, s = rng.random(), rng.random(), rng.uniform(0.03, 0.1)
        img += rng.normal(0, 0.08) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    img += rng.normal(0, 0.002, img.shape).astype(np.float32)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * levels).astype(np.float32)


def png_bytes(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def jpeg_bytes(arr: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def dicom_dataset(
    pixels: np.ndarray | None,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    **elements: object,
) -> Dataset:
    """A minimal DX dataset, Explicit VR Little Endian, 8/16-bit gray ``pixels`` (None: no Pixel Data)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["cxrinit-test"])
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 1
    if pixels is not None:
        allocated = pixels.dtype.itemsize * 8
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated = allocated
        ds.BitsStored = bits_stored or allocated
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    else:
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 128, 128, 16, 12, 11
        ds.PixelRepresentation = 0
    for key, value in elements.items():
        setattr(ds, key, value)
    return ds


def dicom_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def pydicom_file(name: str) -> Path:
    """A file shipped by pydicom / pydicom-data (the real chest films RG1_*)."""
    found = pydicom.data.get_testdata_file(name)
    assert found, f"{name} not shipped by pydicom-data"
    return Path(found)
