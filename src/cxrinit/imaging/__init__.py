"""Radiograph decoding (DICOM/PNG/JPEG), the study's preprocessing recipe, and the pixel store."""

from cxrinit.imaging.decode import DecodedImage, ImageMeta, decode_bytes, decode_file, resolve_in_root
from cxrinit.imaging.process import ProcessedImage, process_image
from cxrinit.imaging.reasons import QUARANTINE_REASONS, QuarantineError, Status
from cxrinit.imaging.store import PixelStore, StoreMismatchError, build_store
from cxrinit.imaging.transforms import Recipe, preprocess

__all__ = [
    "QUARANTINE_REASONS",
    "DecodedImage",
    "ImageMeta",
    "PixelStore",
    "ProcessedImage",
    "QuarantineError",
    "Recipe",
    "Status",
    "StoreMismatchError",
    "build_store",
    "decode_bytes",
    "decode_file",
    "preprocess",
    "process_image",
    "resolve_in_root",
]
