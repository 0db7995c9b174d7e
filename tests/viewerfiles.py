"""Files that DICOM viewers and image libraries open, built from pydicom-data's real chest film RG1.

Each variant is an odd-but-valid shape a real download contains; a viewer shows each of them the way
it shows the plain file, so cxrinit must decode each to the plain file's pixels (or say why not).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset


def rg1_path(name: str = "RG1_UNCR.dcm") -> Path:
    """A chest film shipped by pydicom-data (RG1: 1955x1841 MONOCHROME1 CR)."""
    found = pydicom.data.get_testdata_file(name)
    assert found, f"{name} not shipped by pydicom-data"
    return Path(found)


def rg1_dataset(name: str = "RG1_UNCR.dcm") -> pydicom.Dataset:
    return pydicom.dcmread(rg1_path(name))


def dicom_file(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def empty_window() -> bytes:
    """RG1 with Window Center and Window Width present but empty (zero-length DS elements)."""
    ds = rg1_dataset()
    ds.WindowCenter, ds.WindowWidth = None, None
    return dicom_file(ds)


def without_file_meta(name: str = "RG1_UNCR.dcm", implicit: bool = False) -> bytes:
    """RG1 written as a bare dataset: no 128-byte preamble, no 'DICM', no group 0002 (what some PACS
    exports and older archives hold). Explicit VR Little Endian unless ``implicit``."""
    ds = rg1_dataset(name)
    del ds.file_meta
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def rg1_upright_8bit(shrink: int = 4) -> np.ndarray:
    """RG1 as an 8-bit display image (window applied, MONOCHROME1 inverted), ``shrink`` times smaller."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = rg1_dataset()
    a = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(np.float64)
    a = a.max() + a.min() - a
    a = (a - a.min()) / (a.max() - a.min()) * 255
    return np.ascontiguousarray(a[::shrink, ::shrink]).round().astype(np.uint8)


# PIL's transposes that *store* an upright image so that EXIF Orientation N shows it upright again.
_STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # stored turned counter-clockwise; shown turned 90° clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def with_orientation(upright: np.ndarray, orientation: int, fmt: str = "JPEG") -> bytes:
    """``upright`` stored turned, with the EXIF Orientation tag that shows it upright (JPEG or PNG eXIf).

    A camera or a phone photo of a film is stored like this; PNG and lossless JPEG are not needed:
    JPEG at quality 100 keeps the comparison tight.
    """
    im = Image.fromarray(upright)
    if orientation != 1:
        im = im.transpose(_STORE_FOR_ORIENTATION[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, fmt, exif=exif.tobytes(), **({"quality": 100} if fmt == "JPEG" else {}))
    return buf.getvalue()
