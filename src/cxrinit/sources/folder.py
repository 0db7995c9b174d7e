"""A user's own data: one CSV (default ``labels.csv`` in the root) naming the images and labels.

Columns (``columns=`` maps these names to the CSV's own): ``path`` and ``patient_id`` required;
optional ``image_id`` (default: the path without its extension), ``study_id`` (default: the image
id), ``view`` (codes through the view map; absent -> OTHER by default), ``split`` (train / val /
test, common spellings, blank -> NA), ``sex`` (M/F/male/female, any case; O/U/unknown/blank -> NA)
and ``age`` (years). Every other column, except those in ``ignore``, is a label: ``label:<name>``,
float as written (blank -> NaN); a non-numeric label value is an error. Paths are relative to the
root; backslashes are read as separators (``note/backslash_paths``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import (LABEL_PREFIX, Rejections, SourceTable, categorical, finalize, locate, numeric, read_csv,
                   split_values, strip_extension, text)
from .registry import OptionError, register_source
from .views import check_view_map

SOURCE = "folder"
#: Native view code -> canonical view, unless the configuration gives a view map.
VIEW_MAP: dict[str, str] = {"PA": "PA", "AP": "AP", "LATERAL": "LATERAL", "OTHER": "OTHER", "L": "LATERAL",
                            "LL": "LATERAL", "": "OTHER"}
#: What the root folder holds (shown when it is missing).
LAYOUT = "labels.csv (path, patient_id, labels...) and the images it names"
FIELDS: tuple[str, ...] = ("path", "patient_id", "image_id", "study_id", "view", "split", "sex", "age")
_SEX = {"M": "M", "F": "F", "male": "M", "female": "F", "O": None, "U": None, "other": None, "unknown": None,
        "": None}


def check_options(options: Mapping[str, object]) -> None:
    """``columns`` maps known roles to the CSV's own column names; ``ignore`` lists column names."""
    columns = options.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise OptionError(("columns",), f"columns must map a role to your column name, got {columns!r}")
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OptionError(("columns", str(unknown[0])), f"unknown column role {unknown[0]!r}{hint}; "
                                                        f"roles: {', '.join(FIELDS)}")
    ignore = options.get("ignore") or ()
    if isinstance(ignore, str) or not all(isinstance(c, str) for c in ignore):
        raise OptionError(("ignore",), f"ignore must be a list of column names, got {ignore!r}")


@register_source(SOURCE, view_map=VIEW_MAP, layout=LAYOUT, mimic_target=False, check_options=check_options)
def read(root: Path, *, view_map: Mapping[str, str] | None = None, labels_file: str = "labels.csv",
         columns: Mapping[str, str] | None = None, ignore: Sequence[str] = (), source: str = SOURCE) -> SourceTable:
    """Read a folder of images described by one CSV (see the module docstring)."""
    started = time.perf_counter()
    root = Path(root)
    view_map = check_view_map(VIEW_MAP if view_map is None else view_map, source)
    try:
        check_options({"columns": columns, "ignore": ignore})
    except ValueError as err:
        raise ValueError(f"folder reader: {err}") from None
    names = {field: (columns or {}).get(field, field) for field in FIELDS}
    counts: dict[str, int] = {}
    path = locate(root, [labels_file], "label table", f"put {labels_file} in {root} or pass labels_file=")
    mapped = {role: col for role, col in names.items() if col != role}
    fix = (f"name your file's columns in sources.{source}.options.columns (it maps {mapped})"
           if mapped else f"add the column, or name yours under sources.{source}.options.columns "
           "(e.g. {patient_id: pid})")
    table = read_csv(root, path, required=(names["path"], names["patient_id"]), keep_all=True, counts=counts,
                     missing_fix=fix)
    df = table.df
    has = {field: names[field] in df.columns for field in FIELDS}

    image_path = text(table, names["path"], fix="every row needs the image path relative to the root")
    backslash = image_path.str.contains("\\", regex=False)
    if backslash.any():
        counts["note/backslash_paths"] = int(backslash.sum())
        image_path = image_path.str.replace("\\", "/", regex=False)
    image_id = text(table, names["image_id"]) if has["image_id"] else strip_extension(image_path)
    rows = pd.DataFrame({"image_id": image_id, "path": image_path,
                         "patient_id": text(table, names["patient_id"],
                                            fix="every row needs a patient id (splits are patient-wise)")},
                        index=df.index)
    rows["study_id"] = (text(table, names["study_id"], required=False).fillna(image_id) if has["study_id"]
                        else image_id)
    na_text = pd.Series(pd.NA, index=df.index, dtype="str")
    rows["view_native"] = text(table, names["view"], required=False) if has["view"] else na_text
    rows["sex"] = (categorical(table, names["sex"], _SEX, casefold=True, fix="use M or F, or leave blank",
                               tolerate=counts)
                   if has["sex"] else na_text)
    rows["age"] = (numeric(table, names["age"], fix="age is in years; leave blank if unknown", tolerate=counts)
                   if has["age"] else np.nan)
    rows["official_split"] = split_values(table, names["split"]) if has["split"] else na_text
    used = {names[f] for f in FIELDS if has[f]} | set(ignore)
    # A trailing comma on every line gives a nameless, empty column: not a label.
    empty_unnamed = [c for c in df.columns if c.startswith("Unnamed: ") and (df[c].str.strip() == "").all()]
    if empty_unnamed:
        counts["note/empty_unnamed_columns"] = len(empty_unnamed)
        used |= set(empty_unnamed)
    for column in (c for c in df.columns if c not in used):
        rows[f"{LABEL_PREFIX}{column}"] = numeric(
            table, column, fix=f"label values must be numbers (or blank); pass ignore=[{column!r}] to skip the column")
    rows["_table"], rows["_record"] = 0, df.index
    return finalize(source, rows, view_map=view_map, tables=[table], rejections=Rejections(), counts=counts,
                    started=started)


__all__ = ["FIELDS", "LAYOUT", "SOURCE", "VIEW_MAP", "check_options", "read"]
