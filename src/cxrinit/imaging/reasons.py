"""Status codes of the pixel store: ``ok`` or the reason an image was quarantined."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Every status an image can end with; stored as plain strings in the store index."""

    OK = "ok"
    MISSING = "missing"  # the path does not exist under the dataset root
    ZERO_BYTES = "zero_bytes"  # the file exists but is empty
    TRUNCATED = "truncated"  # the data stops before the image does
    WRONG_FORMAT = "wrong_format"  # content does not match the extension, or is no image at all
    NO_PIXEL_DATA = "no_pixel_data"  # a DICOM without a pixel data element
    UNSUPPORTED_SYNTAX = "unsupported_syntax"  # a DICOM transfer syntax no installed decoder handles
    IMPLAUSIBLE_SIZE = "implausible_size"  # a side outside Recipe.min_side .. Recipe.max_side
    PATH_ESCAPE = "path_escape"  # the metadata path resolves outside the dataset root
    BLANK = "blank"  # decoded, but every pixel has the same value: nothing to learn from
    DUPLICATE_ID = "duplicate_id"  # an image_id already seen earlier in the items
    DECODE_ERROR = "decode_error"  # anything else; the detail carries the exception text


QUARANTINE_REASONS: tuple[Status, ...] = tuple(s for s in Status if s is not Status.OK)


class QuarantineError(Exception):
    """Raised inside decoding/preprocessing to quarantine one image with a reason."""

    def __init__(self, status: Status, detail: str, shape: tuple[int, int] | None = None) -> None:
        if status is Status.OK:
            raise ValueError("QuarantineError needs a quarantine reason, not 'ok'")
        super().__init__(f"{status.value}: {detail}")
        self.status = status
        self.detail = detail
        self.shape = shape  # original (height, width) when the header was read before failing
