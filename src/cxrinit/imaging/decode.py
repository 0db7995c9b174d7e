"""Decode one radiograph file (DICOM, PNG, JPEG) to a 2-D gray array, or quarantine it with a reason.

Every per-file problem is raised as :class:`QuarantineError` with a :class:`Status`; callers that
process batches catch it (and anything else, as ``decode_error``) so one bad file never stops a run.

Rules, in order of application:

* Paths come from metadata and are untrusted: they are resolved (``..`` and symlinks) and must stay
  inside the dataset root before the file is opened (``path_escape``).
* The format comes from the extension and must match the content's magic bytes (``wrong_format``);
  an unknown extension is decoded by its content.
* Image size is checked from the header, before the pixels are decoded (``implausible_size``).
* DICOM: modality LUT (Modality LUT Sequence or Rescale Slope/Intercept), then, if ``voi`` is set,
  the VOI transform. When a dataset has both a VOI LUT Sequence and Window Center/Width, the first
  VOI LUT of the sequence wins (pydicom's ``prefer_lut=True``); of several windows the first is
  used; an invalid window (width < 1, or Window Center/Width present but empty) is ignored and
  noted, as pydicom and viewers do. MONOCHROME1 is inverted after
  windowing, so bright means dense for every output. Unused high bits (Bits Stored < Bits
  Allocated) are masked (sign-extended for signed data). Multi-frame data: only the first frame is
  decoded and the detail says so. Colour data is reduced to luminance. Linear parts are returned
  as an affine (scale, offset) beside integer pixels (see :class:`DecodedImage`).
* DICOM without preamble and file meta group (a bare dataset): the transfer syntax is the VR and
  byte order pydicom detects while parsing (implicit or explicit VR), noted; compressed Pixel Data
  in such a file is ``unsupported_syntax``, since nothing says how it was compressed.
* PNG and JPEG: an EXIF Orientation (JPEG APP1, PNG ``eXIf``) is applied as OpenCV's ``imread``,
  Pillow's ``exif_transpose`` and viewers apply it, and noted; sizes are those of the upright image.
* PNG: 8- and 16-bit gray kept at full depth; colour reduced to luminance (ITU-R 601 weights),
  alpha dropped. With ``eight_bit`` the file is read exactly like the study (OpenCV
  ``IMREAD_GRAYSCALE``, which keeps the high byte of 16-bit data). Decoded by OpenCV's libpng:
  on 2048x2048 16-bit files Pillow (libpng) and pyspng (libspng, which returns 16-bit gray with an
  alpha channel to drop) were within 3% of it, one core each (56-58 ms), so it stays the only one.
* JPEG: decoded by libjpeg at the smallest DCT scale (1/1, 1/2, 1/4, 1/8) whose result still covers
  ``draft_to``: the main speed lever for 2500x3000 files going to 224 or 512 pixels.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import cv2
import numpy as np
import pydicom
from PIL import ExifTags, Image, ImageFile, ImageOps
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    get_decoder,
    pixel_array,
)

from cxrinit.imaging.reasons import QuarantineError, Status

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
SUFFIX_FORMATS: dict[str, str] = {
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".dic": "dicom",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
}
_PNG_COLOR_TYPES = {0: "MONOCHROME2", 2: "RGB", 3: "PALETTE", 4: "GRAY_ALPHA", 6: "RGBA"}
MAX_FILE_BYTES = 1 << 30  # no radiograph comes near 1 GiB; don't read what is surely something else
DraftTarget = tuple[int, int] | Callable[[int, int], tuple[int, int]]
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class ImageMeta:
    """What the source file says about the image (sizes are the original, not the decoded ones)."""

    height: int
    width: int
    photometric: str  # DICOM Photometric Interpretation; PNG/JPEG: MONOCHROME2 for gray, else colour type
    bits: int  # bits stored per sample
    format: str  # "png", "jpeg" or "DICOM <transfer syntax name>"
    note: str = ""  # e.g. "first of 3 frames"


@dataclass(frozen=True)
class DecodedImage:
    """2-D image, brighter = denser: display values = ``pixels * scale + offset``.

    ``pixels`` is float32 or the native integer type (uint8/uint16/int16). The affine part is kept
    apart so that 16-bit data stays integer at full resolution; resizing commutes with it, so
    :func:`cxrinit.imaging.transforms.preprocess` applies it after shrinking.
    """

    pixels: np.ndarray
    meta: ImageMeta
    scale: float = 1.0
    offset: float = 0.0

    def values(self) -> np.ndarray:
        """Full-resolution display values (float32 unless the affine part is the identity)."""
        if self.scale == 1.0 and self.offset == 0.0:
            return self.pixels
        return self.pixels.astype(np.float32) * np.float32(self.scale) + np.float32(self.offset)


def resolve_in_root(root: str | os.PathLike[str], rel_path: str) -> Path:
    """Return the real path of ``rel_path`` under ``root``; ``path_escape`` if it leaves the root.

    Symlinks are followed, so a link pointing outside the root is an escape even if its own name is
    inside. Nothing is opened here.
    """
    rel = str(rel_path)
    if not rel or rel in (".", "/"):
        raise QuarantineError(Status.PATH_ESCAPE, f"empty path {rel!r}")
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).drive or "\x00" in rel:
        raise QuarantineError(Status.PATH_ESCAPE, f"{rel!r} is absolute; manifest paths must be relative to the root")
    root_real = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root_real, rel))
    if os.path.commonpath([root_real, target]) != root_real or target == root_real:
        where = os.path.relpath(target, root_real)
        raise QuarantineError(Status.PATH_ESCAPE, f"{rel!r} resolves to {where!r} relative to the root, outside it")
    return Path(target)


def read_source(path: Path, label: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read a whole regular file; missing, empty, not a file or oversized become quarantines."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise QuarantineError(Status.WRONG_FORMAT, f"{label}: is {what}, not an image file")
        if info.st_size > max_bytes:
            raise QuarantineError(Status.IMPLAUSIBLE_SIZE, f"{label}: {info.st_size} bytes, more than {max_bytes}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise QuarantineError(Status.MISSING, f"{label}: no such file") from None
    except OSError as exc:
        raise QuarantineError(Status.DECODE_ERROR, f"{label}: cannot read: {exc}") from None
    if not data:
        raise QuarantineError(Status.ZERO_BYTES, f"{label}: file is empty")
    return data


def sniff_format(data: bytes) -> str | None:
    """Format by magic bytes: "png", "jpeg", "dicom" or None."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    # A preamble-less dataset starts with the tag of its first element: a group an image file holds
    # (file meta, identification, patient, acquisition, study, image), little- or big-endian.
    if len(data) >= 8 and (struct.unpack_from("<H", data)[0] in _FIRST_GROUPS
                           or struct.unpack_from(">H", data)[0] in _FIRST_GROUPS):
        return "dicom"
    return None


_FIRST_GROUPS = frozenset({0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028})


def decode_bytes(
    data: bytes,
    name: str,
    *,
    min_side: int = 64,
    max_side: int = 10000,
    voi: bool = True,
    eight_bit: bool = False,
    draft_to: DraftTarget | None = None,
) -> DecodedImage:
    """Decode file content ``data`` (``name`` gives the extension and labels errors).

    ``draft_to``: the (height, width) the JPEG decoder must at least deliver, or a function of the
    original (height, width) giving it; None decodes at full size.
    """
    fmt = _format_for(data, name)
    limits = (min_side, max_side)
    if fmt == "png":
        return _decode_png(data, name, limits, eight_bit)
    if fmt == "jpeg":
        return _decode_jpeg(data, name, limits, draft_to)
    return _decode_dicom(data, name, limits, voi)


def decode_file(path: str | os.PathLike[str], **kwargs) -> DecodedImage:
    """Decode a file by path (no root check; see :func:`resolve_in_root`); kwargs as ``decode_bytes``."""
    path = Path(path)
    return decode_bytes(read_source(path, str(path)), str(path), **kwargs)


def _format_for(data: bytes, name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    expected = SUFFIX_FORMATS.get(suffix)
    found = sniff_format(data)
    if expected is None:
        if found is None:
            raise QuarantineError(
                Status.WRONG_FORMAT, f"{name}: unknown extension {suffix!r} and content is no PNG/JPEG/DICOM"
            )
        return found
    if found != expected:
        what = f"{found} data" if found else f"no image (starts with {data[:8]!r})"
        raise QuarantineError(Status.WRONG_FORMAT, f"{name}: extension says {expected}, content is {what}")
    return expected


def _check_size(name: str, height: int, width: int, limits: tuple[int, int]) -> None:
    lo, hi = limits
    if min(height, width) < lo or max(height, width) > hi:
        raise QuarantineError(
            Status.IMPLAUSIBLE_SIZE,
            f"{name}: {height}x{width} px, sides must be within {lo}..{hi}",
            shape=(height, width),
        )


def _to_gray(arr: np.ndarray) -> np.ndarray:
    """Luminance of an (H, W, C>=3) RGB(A) array, alpha dropped, as float32."""
    return np.tensordot(arr[..., :3].astype(np.float32, copy=False), _LUMA, axes=([-1], [0]))


# --- PNG -------------------------------------------------------------------------------------------


def _png_walk(data: bytes, name: str) -> tuple[int, int, int, int, int]:
    """Walk the chunk list: (height, width, bit depth, colour type, EXIF orientation); ``truncated``
    if IEND is missing. The orientation comes from an ``eXIf`` chunk (PNG 1.5), 1 without one."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise QuarantineError(Status.TRUNCATED, f"{name}: PNG ends before its IHDR header")
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    orientation = 1
    pos = 8
    while True:
        if pos + 8 > len(data):
            raise QuarantineError(Status.TRUNCATED, f"{name}: PNG stops after {len(data)} bytes, no IEND chunk")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise QuarantineError(
                Status.TRUNCATED,
                f"{name}: PNG chunk {kind!r} at byte {pos} needs {end} bytes, file has {len(data)}",
            )
        if kind == b"IEND":
            return height, width, depth, color, orientation
        if kind == b"eXIf":
            exif = Image.Exif()
            try:
                exif.load(data[pos + 8 : pos + 8 + length])
            except Exception:  # unreadable EXIF: viewers show the pixels as stored, and so do we
                exif = Image.Exif()
            orientation = _exif_orientation(exif)
        pos = end


def _decode_png(data: bytes, name: str, limits: tuple[int, int], eight_bit: bool) -> DecodedImage:
    height, width, depth, color, orientation = _png_walk(data, name)
    _check_size(name, height, width, limits)
    buf = np.frombuffer(data, np.uint8)
    # Orientation is applied below from the eXIf chunk read above, the same way for both decoders.
    flag = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION if eight_bit else cv2.IMREAD_UNCHANGED
    arr = cv2.imdecode(buf, flag)
    if arr is None:
        arr = _png_pil_fallback(data, name, eight_bit)
    elif arr.ndim == 3:
        code = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}.get(arr.shape[2])
        arr = cv2.cvtColor(arr, code) if code is not None else arr[..., 0]
    if orientation != 1:
        arr = np.ascontiguousarray(_ORIENT[orientation](arr))
        if orientation in _SIDEWAYS:
            height, width = width, height
    photometric = _PNG_COLOR_TYPES.get(color, f"color_type_{color}")
    meta = ImageMeta(height, width, photometric, depth, "png", _orientation_note(orientation))
    return DecodedImage(arr, meta)


def _png_pil_fallback(data: bytes, name: str, eight_bit: bool) -> np.ndarray:
    """OpenCV gives no reason when it fails; PIL either decodes the file or tells why not."""
    try:
        with _strict_pil():
            im = Image.open(io.BytesIO(data))
            im.load()
    except OSError as exc:
        status = Status.TRUNCATED if "truncated" in str(exc).lower() else Status.DECODE_ERROR
        raise QuarantineError(status, f"{name}: {exc}") from None
    except Exception as exc:  # PIL raises SyntaxError/ValueError for broken chunks
        raise QuarantineError(Status.DECODE_ERROR, f"{name}: {type(exc).__name__}: {exc}") from None
    if im.mode in ("I;16", "I;16B", "I"):
        arr = np.asarray(im).astype(np.uint16)
        return (arr >> 8).astype(np.uint8) if eight_bit else arr
    return np.asarray(im.convert("L"))


# --- JPEG ------------------------------------------------------------------------------------------


@contextmanager
def _strict_pil() -> Iterator[None]:
    """Truncated files must fail even if other code enabled PIL's LOAD_TRUNCATED_IMAGES."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode_jpeg(data: bytes, name: str, limits: tuple[int, int], draft_to: DraftTarget | None) -> DecodedImage:
    try:
        with _strict_pil(), warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # size is checked below
            im = Image.open(io.BytesIO(data))
            orientation = _exif_orientation(im.getexif())
            width, height = im.size
            if orientation in _SIDEWAYS:  # the image is shown (and decoded) as a viewer shows it
                width, height = height, width
            _check_size(name, height, width, limits)
            mode = im.mode
            if draft_to is not None:
                th, tw = draft_to(height, width) if callable(draft_to) else draft_to
                if orientation in _SIDEWAYS:
                    th, tw = tw, th
                # PIL picks the largest DCT scale whose result still covers (w, h).
                im.draft("L", (max(1, tw), max(1, th)))
            im.load()
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
    except QuarantineError:
        raise
    except OSError as exc:
        status = Status.TRUNCATED if "truncated" in str(exc).lower() else Status.DECODE_ERROR
        raise QuarantineError(status, f"{name}: {exc}") from None
    except Exception as exc:
        raise QuarantineError(Status.DECODE_ERROR, f"{name}: {type(exc).__name__}: {exc}") from None
    arr = np.asarray(im if im.mode == "L" else im.convert("L"))
    photometric = "MONOCHROME2" if mode == "L" else mode
    return DecodedImage(arr, ImageMeta(height, width, photometric, 8, "jpeg", _orientation_note(orientation)))


# EXIF Orientation (TIFF tag 274): how the stored pixels must be turned to be shown upright.
_ORIENTATIONS = {
    2: "mirrored left-right",
    3: "rotated 180°",
    4: "mirrored top-bottom",
    5: "transposed",
    6: "rotated 90° clockwise",
    7: "transversed",
    8: "rotated 90° counter-clockwise",
}
_SIDEWAYS = (5, 6, 7, 8)
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {  # PIL's ImageOps.exif_transpose, on arrays
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.T,
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].T,
    8: lambda a: np.rot90(a, 1),
}


def _exif_orientation(exif: Image.Exif) -> int:
    """The EXIF Orientation value (1-8); 1 when absent or invalid (viewers ignore invalid ones too)."""
    try:
        value = int(exif.get(ExifTags.Base.Orientation, 1))
    except (TypeError, ValueError):
        return 1
    return value if value in _ORIENTATIONS else 1


def _orientation_note(orientation: int) -> str:
    if orientation == 1:
        return ""
    return f"EXIF Orientation {orientation} applied ({_ORIENTATIONS[orientation]}), as OpenCV and viewers do"


# --- DICOM -----------------------------------------------------------------------------------------


def _decode_dicom(data: bytes, name: str, limits: tuple[int, int], voi: bool) -> DecodedImage:
    # Plain little-endian data is viewed in place (no copy of 18 MB per VinDr file); everything
    # else is parsed in full and decoded by pydicom.
    head, pixel_at = _read_dataset(data, name, stop_before_pixels=True)
    notes: list[str] = []
    syntax = head.file_meta.get("TransferSyntaxUID") or _syntax_from_encoding(head, notes)
    if "TransferSyntaxUID" not in head.file_meta and _encapsulated(data, pixel_at, syntax):
        raise QuarantineError(
            Status.UNSUPPORTED_SYNTAX,
            f"{name}: Pixel Data is compressed (encapsulated) but the file has no file meta group to say "
            "how; only the writer knows the transfer syntax. Re-export it as a DICOM file with file meta",
        )
    native = pixel_at is not None and _plain_native(head, syntax)
    ds = head if native else _read_dataset(data, name)[0]
    if "TransferSyntaxUID" not in ds.file_meta:  # pydicom's decoders read the syntax from there
        ds.file_meta.TransferSyntaxUID = syntax
    if not native and "PixelData" not in ds:
        other = [k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds]
        detail = f"has {other[0]}, which is not supported" if other else "has no Pixel Data element"
        raise QuarantineError(Status.NO_PIXEL_DATA, f"{name}: {detail}")
    try:
        height, width = int(ds.Rows), int(ds.Columns)
        bits = int(ds.BitsStored)
        photometric = str(ds.PhotometricInterpretation).strip()
    except (AttributeError, TypeError, ValueError) as exc:
        raise QuarantineError(Status.DECODE_ERROR, f"{name}: image pixel module incomplete: {exc}") from None
    _check_size(name, height, width, limits)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise QuarantineError(
            Status.UNSUPPORTED_SYNTAX, f"{name}: no decoder exists for transfer syntax {syntax} ({syntax.name})"
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "a decoding plugin"
        raise QuarantineError(Status.UNSUPPORTED_SYNTAX, f"{name}: transfer syntax {syntax.name} needs {missing}")
    frames = int(ds.get("NumberOfFrames") or 1)
    try:
        arr = _native_view(data, pixel_at, ds, syntax, bits) if native else pixel_array(ds, index=0)
    except ValueError as exc:
        msg = str(exc)
        status = Status.TRUNCATED if "less than expected" in msg else Status.DECODE_ERROR
        raise QuarantineError(status, f"{name}: {msg}") from None
    except Exception as exc:
        raise QuarantineError(Status.DECODE_ERROR, f"{name}: {type(exc).__name__}: {exc}") from None
    notes += [f"first of {frames} frames"] if frames > 1 else []
    pixels, scale, offset = _dicom_display(arr, ds, photometric, voi, notes)
    meta = ImageMeta(height, width, photometric, bits, f"DICOM {syntax.name}", "; ".join(notes))
    return DecodedImage(pixels, meta, scale, offset)


def _syntax_from_encoding(ds: pydicom.Dataset, notes: list[str]) -> pydicom.uid.UID:
    """Transfer syntax of a dataset without file meta group, from the encoding pydicom detected.

    Such files (no preamble, no group 0002) can only hold uncompressed data: the VR and byte order
    pydicom found while parsing are the whole transfer syntax (PS3.10 7.1 has the file meta carry it).
    """
    implicit, little = ds.original_encoding
    if implicit in (None, True):
        syntax = pydicom.uid.ImplicitVRLittleEndian
    else:
        syntax = pydicom.uid.ExplicitVRLittleEndian if little in (None, True) else pydicom.uid.ExplicitVRBigEndian
    notes.append(f"no file meta group: transfer syntax taken as {syntax.name} from the encoding")
    return syntax


def _encapsulated(data: bytes, at: int | None, syntax: pydicom.uid.UID) -> bool:
    """Whether the Pixel Data element at byte ``at`` has undefined length (fragments follow)."""
    if at is None or syntax.is_implicit_VR or not syntax.is_little_endian:
        return False
    return len(data) >= at + 12 and struct.unpack_from("<I", data, at + 8)[0] == 0xFFFFFFFF


_NATIVE_LE = (pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian)
_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"


def _plain_native(ds: pydicom.Dataset, syntax: pydicom.uid.UID) -> bool:
    """Uncompressed little-endian gray 8/16-bit data that needs no unpacking by pydicom."""
    if syntax not in _NATIVE_LE or int(ds.get("SamplesPerPixel") or 1) != 1:
        return False
    allocated, stored = int(ds.get("BitsAllocated") or 0), int(ds.get("BitsStored") or 0)
    signed = int(ds.get("PixelRepresentation") or 0) == 1
    return allocated in (8, 16) and 0 < stored <= allocated and not (signed and stored != allocated)


def _native_view(data: bytes, at: int, ds: pydicom.Dataset, syntax: pydicom.uid.UID, bits: int) -> np.ndarray:
    """Zero-copy view of the first frame of the Pixel Data element whose tag starts at byte ``at``."""
    if syntax == pydicom.uid.ExplicitVRLittleEndian:  # tag, VR, 2 reserved bytes, 4-byte length
        (length,), start = struct.unpack_from("<I", data, at + 8), at + 12
    else:  # tag, 4-byte length
        (length,), start = struct.unpack_from("<I", data, at + 4), at + 8
    allocated = int(ds.BitsAllocated)
    signed = int(ds.get("PixelRepresentation") or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    height, width = int(ds.Rows), int(ds.Columns)
    need = height * width * dtype.itemsize
    if length == 0xFFFFFFFF or length < need or len(data) - start < length:
        have = min(length, len(data) - start) if length != 0xFFFFFFFF else len(data) - start
        raise ValueError(f"The number of bytes of pixel data is less than expected ({have} of {length} "
                         f"declared, {need} needed for the first frame)")
    arr = np.frombuffer(data, dtype, count=height * width, offset=start).reshape(height, width)
    if not signed and bits < allocated and int(_min_max(arr)[1]) >> bits:
        arr = arr & np.array((1 << bits) - 1, dtype)  # overlay bits above Bits Stored are not image data
    return arr


def _linear_window(ds: pydicom.Dataset, notes: list[str]) -> tuple[float, float] | None | bool:
    """(lower, upper) modality values of a linear window; None without one; False if non-linear."""
    if "VOILUTSequence" in ds:
        return False  # the first VOI LUT wins over Window Center/Width (prefer_lut)
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    center, width = _first_value(ds.WindowCenter), _first_value(ds.WindowWidth)
    if center is None or width is None:
        # Present but empty (or not numbers): viewers show the image unwindowed, and so do we.
        notes.append("ignored window: Window Center/Width present but empty or not a number")
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function == "LINEAR" and width > 1:
        return center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    if function == "LINEAR_EXACT" and width > 0:
        return center - width / 2, center + width / 2
    if function == "SIGMOID" and width > 0:
        return False
    notes.append(f"ignored window {function} center {center:g} width {width:g} (invalid)")
    return None


def _first_value(value: object) -> float | None:
    """First value of a DS/IS element that may be multi-valued; None when it is empty or unreadable."""
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    try:
        return None if value is None or value == "" else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _min_max(arr: np.ndarray) -> tuple[float, float]:
    if arr.dtype in (np.uint8, np.uint16, np.int16, np.float32):
        lo, hi, _, _ = cv2.minMaxLoc(arr)
        return lo, hi
    return float(arr.min()), float(arr.max())


def _dicom_display(
    arr: np.ndarray, ds: pydicom.Dataset, photometric: str, voi: bool, notes: list[str]
) -> tuple[np.ndarray, float, float]:
    """Stored values -> (pixels, scale, offset) with display = pixels * scale + offset, bright = dense.

    Rescale, a linear window and MONOCHROME1 inversion are affine maps of the stored values once the
    window's clipping is applied, so they are kept as (scale, offset): the full-resolution array
    stays integer unless the window actually clips this image. A Modality LUT Sequence, a VOI LUT
    Sequence or a SIGMOID window go through pydicom at full resolution.
    """
    if photometric == "PALETTE COLOR":
        return _to_gray(apply_color_lut(arr, ds)), 1.0, 0.0
    if arr.ndim == 3:  # RGB, or YBR already converted to RGB by pydicom
        return _to_gray(arr), 1.0, 0.0
    if not arr.dtype.isnative:  # Explicit VR Big Endian
        arr = arr.astype(arr.dtype.newbyteorder("="))
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    window = _linear_window(ds, notes) if voi else None
    if window is False or "ModalityLUTSequence" in ds or slope == 0:
        out = apply_modality_lut(arr, ds)
        if voi:
            out = apply_voi_lut(out, ds, index=0, prefer_lut=True)
        out, scale, offset = out.astype(np.float32, copy=False), 1.0, 0.0
    else:
        if arr.dtype not in (np.uint8, np.uint16, np.int16, np.float32):
            arr = arr.astype(np.float32)  # e.g. 32-bit data: OpenCV resizes float32, not int32
        out, scale, offset = arr, slope, intercept
        if window is not None:
            lower, upper = window
            raw_lo, raw_hi = sorted(((lower - intercept) / slope, (upper - intercept) / slope))
            lo, hi = _min_max(arr)
            if lo < raw_lo or hi > raw_hi:  # the window clips this image: clip at full resolution
                out = np.clip(arr.astype(np.float32), raw_lo, raw_hi)
            # display in [0, 1]: (slope * x + intercept - lower) / (upper - lower)
            scale, offset = slope / (upper - lower), (intercept - lower) / (upper - lower)
            if photometric == "MONOCHROME1":
                return out, -scale, 1.0 - offset
    if photometric == "MONOCHROME1":
        lo, hi = _min_max(out)
        a, b = lo * scale + offset, hi * scale + offset
        scale, offset = -scale, a + b - offset  # v -> (a + b) - v: same range, reversed
    return out, scale, offset


def _read_dataset(data: bytes, name: str, stop_before_pixels: bool = False) -> tuple[pydicom.Dataset, int | None]:
    """Parse ``data``; with ``stop_before_pixels`` also return where the Pixel Data tag starts."""
    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    fp = io.BytesIO(data)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(fp, force=not has_preamble, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError as exc:
        raise QuarantineError(Status.WRONG_FORMAT, f"{name}: not a DICOM file: {exc}") from None
    except (EOFError, struct.error) as exc:
        raise QuarantineError(Status.TRUNCATED, f"{name}: DICOM header ends early: {exc}") from None
    except Exception as exc:
        raise QuarantineError(Status.DECODE_ERROR, f"{name}: unreadable DICOM: {type(exc).__name__}: {exc}") from None
    # pydicom drops a cut-off encapsulated Pixel Data with only a warning, and keeps short values.
    for w in caught:
        if "end of file" in str(w.message).lower():
            raise QuarantineError(Status.TRUNCATED, f"{name}: {w.message}")
    for elem in ds.elements():
        if isinstance(elem, RawDataElement) and elem.value is not None and elem.length != 0xFFFFFFFF:
            if len(elem.value) < elem.length:
                raise QuarantineError(
                    Status.TRUNCATED,
                    f"{name}: element {elem.tag} has {len(elem.value)} of its {elem.length} bytes",
                )
    pos = fp.tell()  # pydicom rewinds to the Pixel Data tag when it stops before it
    at = pos if stop_before_pixels and data[pos : pos + 4] == _PIXEL_TAG_LE else None
    return ds, at
