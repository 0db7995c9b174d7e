"""Which files to predict: files and folders as the user named them -> one entry per distinct image file."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cxrinit.imaging.reasons import Status

log = logging.getLogger(__name__)

#: What a folder is expanded to (case-insensitive); a file named explicitly is tried whatever its name.
IMAGE_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom", ".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class InputFile:
    """One file to predict: ``file`` as named or found, ``real`` its resolved path, ``image_id`` its output id."""

    file: str
    real: Path
    image_id: str


@dataclass(frozen=True)
class Skipped:
    """An input that yields no image: an empty folder, or a file listed more than once."""

    file: str
    image_id: str
    status: Status
    detail: str


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[InputFile], list[Skipped]]:
    """Files stay as given; folders become their image files (recursive, sorted by relative path).

    ``image_id`` is the file name without extension, or for files found in a folder the path relative to that
    folder without extension; ids that still collide become the resolved path without extension. A path that
    does not exist is kept (decoding reports it ``missing``); the same file reached twice is predicted once.
    """
    found: list[tuple[str, Path, str]] = []
    skipped: list[Skipped] = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            members = _images_under(path)
            if not members:
                skipped.append(Skipped(str(path), "", Status.MISSING,
                                       f"{path}: folder holds no {'/'.join(IMAGE_SUFFIXES)} files"))
            for member in members:
                rel = member.relative_to(path)
                found.append((str(member), member.resolve(), rel.with_suffix("").as_posix()))
        else:
            found.append((str(path), path.resolve(), path.stem or path.name))
    first: dict[Path, str] = {}
    unique: list[tuple[str, Path, str]] = []
    for file, real, image_id in found:
        if real in first:
            skipped.append(Skipped(file, image_id, Status.DUPLICATE_ID,
                                   f"{file}: same file as {first[real]}, predicted once"))
            continue
        first[real] = file
        unique.append((file, real, image_id))
    counts = Counter(image_id for _, _, image_id in unique)
    files = [InputFile(file, real, image_id if counts[image_id] == 1 else real.with_suffix("").as_posix())
             for file, real, image_id in unique]
    if clashes := sum(n for n in counts.values() if n > 1):
        log.info("%d files shared an image_id with another file; they use their full path as image_id", clashes)
    if skipped:
        log.warning("%d input(s) give no image: %s", len(skipped), dict(Counter(s.status.value for s in skipped)))
    return files, skipped


def _images_under(folder: Path) -> list[Path]:
    out = []
    seen = {os.path.realpath(folder)}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        # linked folders are followed, but a link back up the tree would recurse forever
        keep = []
        for name in sorted(dirnames):
            real = os.path.realpath(os.path.join(dirpath, name))
            if real not in seen:
                seen.add(real)
                keep.append(name)
        dirnames[:] = keep
        out.extend(Path(dirpath) / name for name in filenames if Path(name).suffix.lower() in IMAGE_SUFFIXES)
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())
