"""ChestX-ray14 (NIH): ``Data_Entry_2017_v2020.csv`` + the official split lists -> manifest.

The header's bracketed names are split by their comma (``OriginalImage[Width``, ``Height]``, ...)
and the 2017 file ends every line with a comma (an empty ``Unnamed: 11`` column); both are read as
they are. ``Data_Entry_2017.csv`` (older name) is accepted too, as are its ``058Y``-style ages
(``M``/``W``/``D`` suffixes converted to years).

- ``image_id``: ``Image Index`` without ``.png``; ``study_id`` the same (patient + follow-up: one
  image per visit); ``patient_id``: ``Patient ID`` as written.
- ``official_split``: ``test`` if listed in ``test_list.txt``, ``train`` if in
  ``train_val_list.txt`` (the official train+val pool), NA if in neither (counted); a name in both
  lists is an error.
- labels: ``terms`` / ``terms_raw`` / ``label_quality`` from ``Finding Labels`` (see terms.py).
- extras: ``follow_up`` (int), ``original_width``, ``original_height``, ``pixel_spacing_x``,
  ``pixel_spacing_y`` (float; NA if the file lacks them).

Paths: the images may sit in any ``images_0NN/images/`` (or a flat ``images/``) folder, so the
reader lists those folders once. An image it does not find (e.g. images not downloaded yet) gets
a path in the layout the root already uses (:func:`guess_folder`): the flat ``images/``, or the
folder it has in the official release, from the first file name of each of the twelve release
folders (images_001 holds 4,999 files, images_002..011 10,000 each, images_012 the rest); the pixel
stage then reports it missing (``note/path_not_listed`` counts them). Should it arrive elsewhere,
the pixel store decodes it from there without rebuilding anything.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .base import (Rejections, SourceFormatError, SourceTable, categorical, finalize, locate, member,
                   numeric, parsed, read_csv, strip_extension, text)
from .terms import parse_terms
from .registry import register_source
from .views import check_view_map

log = logging.getLogger(__name__)

SOURCE = "nih"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"PA": "PA", "AP": "AP"}
#: What the root folder holds (shown when it is missing).
LAYOUT = "images_0NN/images/*.png, Data_Entry_2017_v2020.csv(.gz), train_val_list.txt, test_list.txt"
#: The metadata file as the release and mirrors ship it (some mirrors gzip it).
DATA_ENTRY_FILES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017_v2020.csv.gz", "Data_Entry_2017.csv",
                    "Data_Entry_2017.csv.gz")
#: Where the official split lists come from (they sit next to the Data_Entry file in the release).
_LISTS_FROM = ("the NIH Clinical Center release (https://nihcc.app.box.com/v/ChestXray-NIHCC) ships them next to "
               "Data_Entry_2017_v2020.csv; or set sources.<name>.options.split_lists: false to carve a seeded "
               "patient-wise split instead")
#: First file of images_001 .. images_012 in the official release (names sorted).
RELEASE_FOLDER_FIRST: tuple[str, ...] = (
    "00000001_000.png", "00001336_000.png", "00003923_014.png", "00006585_007.png", "00009232_004.png",
    "00011558_008.png", "00013774_026.png", "00016051_010.png", "00018387_035.png", "00020945_050.png",
    "00024718_000.png", "00028173_003.png",
)
_REQUIRED = ("Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender",
             "View Position")
_EXTRAS = {"OriginalImage[Width": "original_width", "Height]": "original_height",
           "OriginalImagePixelSpacing[x": "pixel_spacing_x", "y]": "pixel_spacing_y"}
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([YMWD]?)")
_AGE_UNIT_YEARS = {"": 1.0, "Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}
_FIX = "use the Data_Entry file of the NIH ChestX-ray14 release"


def release_folder(names: pd.Series) -> pd.Series:
    """The ``images_0NN/images`` folder each file name has in the official release."""
    pos = np.searchsorted(np.array(RELEASE_FOLDER_FIRST), names.to_numpy(dtype=str), side="right")
    pos = np.clip(pos, 1, len(RELEASE_FOLDER_FIRST))
    return pd.Series([f"images_{p:03d}/images" for p in range(13)], dtype="str").iloc[pos].set_axis(names.index)


def guess_folder(names: pd.Series, found: Iterable[str], root: Path) -> pd.Series:
    """Where images not found yet will be, in the layout the root already uses: one flat ``images/``
    (the Box tarballs), ``images_0NN/`` or ``images_0NN/images/`` (the Kaggle mirror); a root holding
    none of them gets the release's ``images_0NN/images/``."""
    layouts = {"flat" if f == "images" else "nested" if f.endswith("/images") else "numbered" for f in found}
    if not layouts and (root / "images").is_dir():
        layouts = {"flat"}
    if layouts == {"flat"}:
        return pd.Series("images", index=names.index, dtype="str")
    release = release_folder(names)
    return release.str.removesuffix("/images") if layouts == {"numbered"} else release


def list_image_folders(root: Path) -> dict[str, str]:
    """file name -> folder (relative), over ``images_*/images/``, ``images_*/`` and ``images/``."""
    folders: list[str] = []
    if root.is_dir():
        with os.scandir(root) as it:
            tops = sorted(e.name for e in it if e.is_dir() and (e.name == "images" or e.name.startswith("images_")))
        for top in tops:
            nested = root / top / "images"
            folders.append(f"{top}/images" if nested.is_dir() else top)
    found: dict[str, str] = {}
    started, n = time.perf_counter(), 0
    for folder in tqdm(folders, desc="listing NIH folders", unit="folder", disable=None, leave=False):
        with os.scandir(root / folder) as it:
            for entry in it:
                n += 1
                found.setdefault(entry.name, folder)
    if folders:
        log.info("listed %d files in %d NIH folders in %.2f s", n, len(folders), time.perf_counter() - started)
    return found


def _age_years(text: str) -> float:
    match = _AGE.fullmatch(text.upper())
    if match is None:
        raise ValueError(text)
    return float(match[1]) * _AGE_UNIT_YEARS[match[2]]


def _split_list(root: Path, name: str, counts: dict[str, int]) -> pd.Series:
    """file name -> 1-based line number, from one of the official list files."""
    path = locate(root, [name], f"NIH split list {name}", f"the official train_val_list.txt and test_list.txt: "
                                                          f"{_LISTS_FROM}")
    names = pd.Series(path.read_text(encoding="utf-8").splitlines(), dtype="str").str.strip()
    lines = pd.Series(np.arange(1, len(names) + 1), index=names.to_numpy())
    lines = lines[names.to_numpy() != ""]
    repeated = lines.index.duplicated(keep="first")
    if repeated.any():
        counts[f"note/repeated_names/{name}"] = int(repeated.sum())
    lines = lines[~repeated]
    counts[f"read/{name}"] = len(lines)
    return lines


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=True)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, source: str = SOURCE,
         data_entry: str | None = None, list_images: bool = True, split_lists: bool = True) -> SourceTable:
    """Read ChestX-ray14's metadata under ``root`` (see the module docstring).

    ``data_entry``: the metadata file's name (default: the release's, plain or gzipped). ``split_lists``:
    read the official ``train_val_list.txt`` / ``test_list.txt`` (an error names where they come from
    when they are missing); false leaves ``official_split`` NA, and harmonization carves a seeded
    patient-wise split.
    """
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    counts: dict[str, int] = {}
    path = locate(root, [data_entry] if data_entry else list(DATA_ENTRY_FILES), "NIH Data_Entry file",
                  "point the NIH root at the folder holding Data_Entry_2017_v2020.csv and images_0NN/")
    table = read_csv(root, path, required=_REQUIRED, optional=tuple(_EXTRAS), counts=counts)
    df = table.df

    name = text(table, "Image Index", fix=_FIX)
    rows = pd.DataFrame({"image_id": strip_extension(name)}, index=df.index)
    rows["patient_id"] = text(table, "Patient ID", fix=_FIX)
    rows["study_id"] = rows["image_id"]
    rows["view_native"] = text(table, "View Position", required=False)
    # sex, age and the image extras: no later stage needs them; unexpected values are read as missing, counted
    rows["sex"] = categorical(table, "Patient Gender", {"M": "M", "F": "F", "": None}, tolerate=counts)
    rows["age"] = parsed(table, "Patient Age", _age_years, problem="age is not a number of years (like 58 or 058Y)",
                         fix="correct the value", tolerate=counts)

    split = pd.Series(pd.NA, index=df.index, dtype="str")
    if split_lists:
        train, test = _split_list(root, "train_val_list.txt", counts), _split_list(root, "test_list.txt", counts)
        both = test.index[member(test.index.to_series(), train.index)]
        if len(both):
            raise SourceFormatError(root / "test_list.txt", f"{len(both)} file(s) are also in train_val_list.txt, "
                                    f"e.g. {both[0]!r}", line=int(test[both[0]]),
                                    fix="use the official lists unchanged")
        split[member(name, train.index)] = "train"
        split[member(name, test.index)] = "test"
        counts["note/not_in_split_lists"] = int(split.isna().sum())
        counts["note/split_list_names_not_in_data_entry"] = int((~member(train.index.to_series(), name)).sum()
                                                                + (~member(test.index.to_series(), name)).sum())
    else:
        counts["note/no_split_lists_split_carved_patient_wise"] = len(split)
    rows["official_split"] = split

    terms, quality, notes = parse_terms(df["Finding Labels"], "pipe")
    rows["terms"], rows["terms_raw"], rows["label_quality"] = terms, df["Finding Labels"].astype("str"), quality
    for note, n in sorted(notes.items()):
        counts[f"note/label_quality/{note}"] = n
    rows["follow_up"] = numeric(table, "Follow-up #", integer=True, blank_ok=False, fix=_FIX).astype(np.int64)
    for column, extra in _EXTRAS.items():
        rows[extra] = numeric(table, column, fix=_FIX, tolerate=counts) if column in df.columns else np.nan

    found = list_image_folders(root) if list_images else {}
    folder = name.map(found).astype("str")
    missing = folder.isna()
    counts["note/path_not_listed"] = int(missing.sum())
    folder = folder.where(~missing, guess_folder(name, found.values(), root))
    rows.insert(1, "path", folder + "/" + name)
    rows["_table"], rows["_record"] = 0, df.index
    return finalize(source, rows, view_map=view_map, tables=[table], rejections=Rejections(), counts=counts,
                    started=started)


__all__ = ["DATA_ENTRY_FILES", "LAYOUT", "RELEASE_FOLDER_FIRST", "SOURCE", "VIEW_MAP", "guess_folder", "list_image_folders", "read",
           "release_folder"]
