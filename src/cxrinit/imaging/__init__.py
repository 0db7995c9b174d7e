"""Radiograph decoding (DICOM/PNG/JPEG), the study's preprocessing recipe, and the pixel store.

Names are imported lazily, so that decoder worker processes never load pandas for the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "DecodedImage": "decode",
    "ImageMeta": "decode",
    "decode_bytes": "decode",
    "decode_file": "decode",
    "resolve_in_root": "decode",
    "ProcessedImage": "process",
    "process_image": "process",
    "QUARANTINE_REASONS": "reasons",
    "QuarantineError": "reasons",
    "Status": "reasons",
    "PixelStore": "store",
    "StoreMismatchError": "store",
    "build_store": "store",
    "Recipe": "transforms",
    "preprocess": "transforms",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cxrinit.imaging.decode import DecodedImage, ImageMeta, decode_bytes, decode_file, resolve_in_root
    from cxrinit.imaging.process import ProcessedImage, process_image
    from cxrinit.imaging.reasons import QUARANTINE_REASONS, QuarantineError, Status
    from cxrinit.imaging.store import PixelStore, StoreMismatchError, build_store
    from cxrinit.imaging.transforms import Recipe, preprocess
