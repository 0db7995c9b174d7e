"""The manifest schema every reader returns, and the helpers the readers share.

A reader turns one dataset's native metadata into a :class:`SourceTable`: the manifest (one row per
image, :data:`MANIFEST_COLUMNS` first, then the native labels as ``label:<name>`` or term-set
columns, then documented extras), the rows it could not accept (``rejected``, reason per row) and
``counts`` (flat ``{"read/<file>": rows, "rejected/<reason>": rows, "note/<what>": rows, ...}``).
``rejected`` holds metadata rows: usually an image that was left out (``path_escape``,
``unknown_view``, ``duplicate_id``, ``no_label_row``), sometimes a row of an image that was kept
(VinDr ``duplicate_reader_row``).

Malformed metadata raises :class:`SourceFormatError` naming the file, the column and the line
(1-based, the header is line 1; exact even when quoted fields span lines, because the line is
recomputed from the file only when an error or a rejection needs it).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import posixpath
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .views import apply_view_map

log = logging.getLogger(__name__)

MANIFEST_COLUMNS: tuple[str, ...] = (
    "source", "image_id", "path", "patient_id", "study_id", "view", "view_native", "sex", "age",
    "official_split",
)
REJECTED_COLUMNS: tuple[str, ...] = ("image_id", "path", "reason", "detail")
SPLITS: tuple[str, ...] = ("train", "val", "test")
LABEL_PREFIX = "label:"
#: Spellings of a missing value in real releases (compared stripped and case-insensitive): a missing
#: value, never a value. PadChest copies in circulation write missing text as ``nan``; exports from
#: R or databases write ``NA``, ``N/A``, ``NULL`` or ``None``.
MISSING_MARKERS: frozenset[str] = frozenset({"", "nan", "none", "na", "n/a", "null"})
#: Spellings of the official split values the readers accept (lower-cased before lookup).
SPLIT_SYNONYMS: dict[str, str] = {
    "train": "train", "training": "train", "val": "val", "valid": "val", "validate": "val",
    "validation": "val", "test": "test", "testing": "test",
}
_STRING_COLUMNS = ("source", "image_id", "path", "patient_id", "study_id", "view", "view_native", "sex",
                   "official_split")


class SourceFormatError(ValueError):
    """Native metadata the reader cannot use; the message names file, column, line and the fix."""

    def __init__(self, file: str | Path, problem: str, *, column: str | None = None,
                 line: int | None = None, fix: str | None = None) -> None:
        self.file, self.column, self.line = str(file), column, line
        where = self.file
        if column is not None:
            where += f", column {column!r}"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {problem}" + (f". {fix[:1].upper()}{fix[1:]}" if fix else ""))


@dataclass
class SourceTable:
    """What a reader returns: accepted images, rejected rows with reasons, and counts."""

    manifest: pd.DataFrame
    rejected: pd.DataFrame
    counts: dict[str, int]


@dataclass
class CsvTable:
    """One metadata file as read: every cell a string ('' when blank), index = record number.

    Record ``i`` (blank lines are not records) starts on line ``i + 2`` unless blank lines or quoted
    fields spanning lines intervene; :meth:`lines` then rescans the file, which only errors and
    rejections ever ask for.
    """

    path: Path
    name: str
    df: pd.DataFrame
    _starts: np.ndarray | None = field(default=None, repr=False)

    def lines(self, records: Sequence[int] | np.ndarray) -> np.ndarray:
        """1-based line numbers where the given records start."""
        records = np.asarray(records, dtype=np.int64)
        if self._starts is None:
            self._starts = _record_start_lines(self.path)
        out = records + 2
        inside = records < len(self._starts)
        out[inside] = self._starts[records[inside]]
        return out

    def line(self, record: int) -> int:
        return int(self.lines([record])[0])

    def tolerate(self, bad: pd.Series | np.ndarray, column: str, expected: str, counts: dict[str, int]) -> None:
        """Count the ``True`` rows of ``bad`` (unexpected values in a column no later stage needs) under
        ``unreadable/<file>:<column>``, with an example: the caller turns them into missing values."""
        records = self.df.index[np.asarray(bad, dtype=bool)]
        if not len(records):
            return
        first = int(records[0])
        key = (f"unreadable/{self.name}:{column} (expected {expected}; e.g. line {self.line(first)}: "
               f"{self.df.at[first, column]!r}; read as missing)")
        counts[key] = counts.get(key, 0) + len(records)
        log.warning("%s, column %r: %d value(s) not %s (e.g. line %d: %r) read as missing", self.name, column,
                    len(records), expected, self.line(first), self.df.at[first, column])

    def fail(self, bad: pd.Series | np.ndarray, column: str, problem: str, fix: str) -> NoReturn:
        """Raise for the first ``True`` row of ``bad`` (aligned with ``df``), quoting its value."""
        records = self.df.index[np.asarray(bad, dtype=bool)]
        first = int(records[0])
        value = self.df.at[first, column] if column in self.df.columns else None
        more = f" ({len(records) - 1} more rows like it)" if len(records) > 1 else ""
        shown = f" {value!r}" if value is not None else ""
        raise SourceFormatError(self.path, f"{problem}:{shown}{more}", column=column,
                                line=self.line(first), fix=fix)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _record_start_lines(path: Path) -> np.ndarray:
    """Start line of every data record, as the csv module splits them (same rules as pandas)."""
    starts = []
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        next(reader, None)
        previous_end = reader.line_num
        for record in reader:
            if record:  # blank lines are not records for the parsers either
                starts.append(previous_end + 1)
            previous_end = reader.line_num
    return np.asarray(starts, dtype=np.int64)


def locate(root: Path, candidates: Sequence[str], what: str, fix: str) -> Path:
    """The first candidate (relative to ``root``) that exists, else a SourceFormatError."""
    for candidate in candidates:
        if (root / candidate).is_file():
            return root / candidate
    others = f" (also looked for {', '.join(candidates[1:])})" if len(candidates) > 1 else ""
    raise SourceFormatError(root / candidates[0], f"{what} not found{others}", fix=fix)


def _parse(path: Path, name: str, columns: list[str], keep_all: bool) -> pd.DataFrame:
    """All cells as strings, blank lines skipped, index = data record number (blank lines not counted).

    Arrow's multi-threaded parser first; a file with quoted cells spanning lines (PadChest's
    reports) is parsed again by Arrow with ``newlines_in_values``; only a file Arrow refuses (a row
    with too few or too many fields) is read record by record by :func:`_parse_ragged`.
    """
    import pyarrow.csv as pacsv

    header = pd.read_csv(path, nrows=0, dtype=str, index_col=False).columns.tolist()  # pandas' names for dupes
    for newlines in (False, True):
        try:
            table = pacsv.read_csv(
                path, read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
                parse_options=pacsv.ParseOptions(newlines_in_values=newlines),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.large_string()), include_columns=columns,
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
            return pd.DataFrame({c: table.column(c).to_pandas(types_mapper=pd.ArrowDtype).astype("str")
                                 for c in columns})
        except UnicodeDecodeError as exc:
            raise SourceFormatError(path, f"not UTF-8 text ({exc.reason})", fix="save it as UTF-8") from None
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                raise SourceFormatError(path, "not UTF-8 text", fix="save it as UTF-8") from None
            # a row out of step may be a quoted cell spanning lines: parse again allowing them, then give up
            log.debug("%s: arrow CSV parser refused the file (newlines_in_values=%s: %s)", name, newlines, exc)
        except (ValueError, KeyError, pa.ArrowException) as exc:
            log.debug("%s: arrow CSV parser refused the file (%s)", name, exc)
            break
    log.debug("%s: reading it record by record", name)
    return _parse_ragged(path, name, columns)


def _parse_ragged(path: Path, name: str, columns: list[str]) -> pd.DataFrame:
    """Short rows padded with ''; extra fields allowed only when empty (a trailing delimiter)."""
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader)
        width = len(header)
        rows = []
        try:
            for record in reader:
                if not record:
                    continue
                if len(record) > width:
                    if any(field.strip() for field in record[width:]):
                        raise SourceFormatError(
                            path, f"malformed CSV: {len(record)} fields where the header has {width}",
                            line=reader.line_num, fix="check quoting and the number of fields on that line")
                    record = record[:width]
                rows.append(record + [""] * (width - len(record)))
        except csv.Error as exc:
            raise SourceFormatError(path, f"malformed CSV ({exc})", line=reader.line_num,
                                    fix="check the quoting on that line") from None
        except UnicodeDecodeError as exc:
            raise SourceFormatError(path, f"not UTF-8 text ({exc.reason})", fix="save it as UTF-8") from None
    # Same column names as pandas gives the header (duplicates and blanks renamed).
    names = pd.read_csv(path, nrows=0, dtype=str, index_col=False).columns.tolist()
    names += [f"Unnamed: {i}" for i in range(len(names), width)]
    df = pd.DataFrame(rows, columns=names[:width], dtype="str") if rows else pd.DataFrame(
        {c: pd.Series(dtype="str") for c in names[:width]})
    return df[columns]


def read_csv(root: Path, path: Path, *, required: Sequence[str], optional: Sequence[str] = (),
             keep_all: bool = False, counts: dict[str, int],
             missing_fix: str = "use the dataset's original file, or rename the column") -> CsvTable:
    """Read a metadata CSV as strings ('' when blank); check the header; skip blank lines.

    Only ``required`` + ``optional`` columns are parsed unless ``keep_all``; a missing required
    column raises naming the file and the column, with ``missing_fix`` as what to do.
    """
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    if not path.is_file():
        raise SourceFormatError(path, "file not found", fix="put the file there or point the reader at the right root")
    try:
        header = pd.read_csv(path, nrows=0, dtype=str, index_col=False).columns.tolist()
    except pd.errors.EmptyDataError:
        raise SourceFormatError(path, "file is empty (no header line)",
                                fix="re-download or re-export the file") from None
    except UnicodeDecodeError as exc:
        raise SourceFormatError(path, f"not UTF-8 text ({exc.reason})", fix="save it as UTF-8") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise SourceFormatError(
            path, f"missing required column(s) {', '.join(map(repr, missing))}; the header has "
                  f"{', '.join(map(repr, header))}",
            column=missing[0], line=1, fix=missing_fix)
    columns = header if keep_all else [c for c in header if c in set(required) | set(optional)]
    df = _parse(path, name, columns, keep_all)
    counts[f"read/{name}"] = len(df)
    return CsvTable(path, name, df)


# -- value parsing (vectorized over unique values: metadata columns repeat a few values a lot) ------

def _by_unique(series: pd.Series, fn: Callable[[np.ndarray], np.ndarray], dtype: object) -> pd.Series:
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    mapped = np.asarray(fn(np.asarray(uniques, dtype=object)), dtype=dtype)
    out = mapped[np.maximum(codes, 0)] if len(mapped) else np.empty(len(codes), dtype=dtype)
    return pd.Series(out, index=series.index)


def missing(values: pd.Series) -> pd.Series:
    """Where ``values`` (strings) hold a missing-value marker (:data:`MISSING_MARKERS`) or are NA."""
    def parse(uniques: np.ndarray) -> np.ndarray:
        return np.array([u.strip().casefold() in MISSING_MARKERS for u in uniques], dtype=bool)

    return _by_unique(values.fillna(""), parse, bool)


def text(table: CsvTable, column: str, *, required: bool = True, fix: str = "") -> pd.Series:
    """Stripped text; a missing value (blank or a marker such as ``nan``) is an error when ``required``, else NA."""
    values = table.df[column].str.strip()
    blank = missing(values)
    if required and blank.any():
        table.fail(blank, column, "required value is missing (blank or a missing-value marker)",
                   fix or "fill in the value or remove the row")
    return values.where(~blank).astype("str")


def numeric(table: CsvTable, column: str, *, allowed: Sequence[float] | None = None,
            integer: bool = False, blank_ok: bool = True, fix: str = "",
            tolerate: dict[str, int] | None = None) -> pd.Series:
    """Float values of a column; a missing value (blank or a marker) -> NaN, or an error without ``blank_ok``.

    Anything else unparseable (or outside ``allowed``) raises, unless ``tolerate`` (the reader's
    counts) is given: a column no later stage needs then reads it as missing and counts it.
    """
    raw = table.df[column]
    blank = missing(raw)

    def parse(uniques: np.ndarray) -> np.ndarray:
        return pd.to_numeric(pd.Series([u.strip() for u in uniques], dtype=object).replace("", np.nan),
                             errors="coerce").to_numpy(dtype=np.float64)

    values = _by_unique(raw, parse, np.float64).where(~blank)
    bad = values.isna() & ~blank
    if allowed is not None:
        bad |= values.notna() & ~values.isin(list(allowed))
    if integer:
        bad |= values.notna() & (values != np.floor(values))
    if not blank_ok:
        bad |= blank
    if bad.any():
        expected = (f"one of {', '.join(f'{a:g}' for a in allowed)}" if allowed is not None
                    else "an integer" if integer else "a number")
        if tolerate is not None and blank_ok:
            table.tolerate(bad, column, expected, tolerate)
            return values.where(~bad)
        table.fail(bad, column, f"value is not {expected}{'' if not blank_ok else ' or blank'}",
                   fix or "correct the value in the file")
    return values


def parsed(table: CsvTable, column: str, parse: Callable[[str], float], *, problem: str, fix: str,
           tolerate: dict[str, int] | None = None) -> pd.Series:
    """Floats from ``parse`` (called once per distinct stripped value; ValueError = unparseable).

    A missing value (blank or a marker) -> NaN. An unparseable value raises, unless ``tolerate``
    (the reader's counts) is given: it is then read as missing and counted.
    """
    def run(uniques: np.ndarray) -> np.ndarray:
        out = np.empty(len(uniques), dtype=np.float64)
        for i, u in enumerate(uniques):
            text = u.strip()
            try:
                out[i] = np.nan if text.casefold() in MISSING_MARKERS else parse(text)
            except ValueError:
                out[i] = np.inf  # marker: no real value in these columns is infinite
        return out

    values = _by_unique(table.df[column], run, np.float64)
    bad = np.isinf(values)
    if bad.any():
        if tolerate is not None:
            table.tolerate(bad, column, problem.split(" is not ", 1)[-1], tolerate)
            return values.where(~bad)
        table.fail(bad, column, problem, fix)
    return values


def categorical(table: CsvTable, column: str, mapping: Mapping[str, str | None], *,
                casefold: bool = False, fix: str = "", tolerate: dict[str, int] | None = None) -> pd.Series:
    """Map stripped values through ``mapping`` ('' = a missing value: blank or a marker such as
    ``nan``; value None = NA). An unknown value raises, unless ``tolerate`` (the reader's counts) is
    given: a column no later stage needs then reads it as missing and counts it."""
    lookup = {(k.casefold() if casefold else k): v for k, v in mapping.items()}
    unknown = object()

    def parse(uniques: np.ndarray) -> np.ndarray:
        keys = ["" if u.strip().casefold() in MISSING_MARKERS else u.strip().casefold() if casefold else u.strip()
                for u in uniques]
        return np.array([lookup.get(k, unknown) for k in keys], dtype=object)

    mapped = _by_unique(table.df[column], parse, object)
    bad = mapped.map(lambda v: v is unknown).astype(bool)
    if bad.any():
        known = ", ".join(repr(k) for k in mapping if k != "") + (" or blank" if "" in mapping else "")
        if tolerate is not None:
            table.tolerate(bad, column, known, tolerate)
            mapped = mapped.where(~bad, None)
        else:
            table.fail(bad, column, f"unexpected value (expected {known})", fix or "correct the value in the file")
    return mapped.where(mapped.notna(), None).astype("str")


def split_values(table: CsvTable, column: str) -> pd.Series:
    """An official-split column (train/val/test and common spellings; blank -> NA)."""
    return categorical(table, column, {**SPLIT_SYNONYMS, "": None}, casefold=True,
                       fix="use train, val or test (or leave blank for no official split)")


def _arrow(values: pd.Series | pd.Index) -> pa.Array:
    arr = pa.array(pd.Series(values).astype("str"), type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def member(values: pd.Series, universe: pd.Series | pd.Index) -> np.ndarray:
    """``values.isin(universe)`` for string data, hashed in Arrow (pandas' str isin loops in Python)."""
    found = pc.is_in(_arrow(values), value_set=_arrow(universe))
    return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def extract(values: pd.Series, pattern: str) -> pd.DataFrame:
    """Named groups of an RE2 ``pattern`` per value (NA where it does not match), computed in Arrow."""
    found = pc.extract_regex(_arrow(values), pattern)
    matched = found.is_valid().to_numpy(zero_copy_only=False)
    out = {}
    for i, fld in enumerate(found.type):
        col = pd.Series(found.field(i).to_numpy(zero_copy_only=False), index=values.index, dtype="str")
        out[fld.name] = col.where(matched)
    return pd.DataFrame(out, index=values.index)


# -- paths ----------------------------------------------------------------------------------------

def check_paths(paths: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(normalized paths, escape mask): absolute paths and ``..`` leaving the root escape.

    Backslashes count as separators for the check, so a Windows-style ``..\\x`` is caught too.
    """
    absolute = paths.str.match(r"^(?:/|\\|[A-Za-z]:)")
    dotted = paths.str.contains(r"(?:^|[/\\])\.\.?(?:[/\\]|$)") | paths.str.contains("//", regex=False)
    normalized = paths.copy()
    escape = absolute.copy()
    for idx in paths.index[(dotted & ~absolute).to_numpy()]:
        norm = posixpath.normpath(paths.at[idx].replace("\\", "/"))
        if norm == ".." or norm.startswith("../"):
            escape.at[idx] = True
        else:
            normalized.at[idx] = norm
    return normalized, escape.astype(bool)


def strip_extension(names: pd.Series) -> pd.Series:
    """``a/b/c.png`` -> ``a/b/c`` (only the last suffix of the last component)."""
    return names.str.replace(r"\.[^./]*$", "", regex=True)


# -- rejections and the final manifest ------------------------------------------------------------

class Rejections:
    """Collects rejected rows; details say where the row came from."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, image_id: pd.Series | Sequence[str], path: pd.Series | Sequence[str], reason: str,
            detail: pd.Series | Sequence[str]) -> None:
        part = pd.DataFrame({"image_id": list(image_id), "path": list(path), "reason": reason,
                             "detail": list(detail)})
        if len(part):
            self._parts.append(part)

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype="str") for c in REJECTED_COLUMNS})
        out = pd.concat(self._parts, ignore_index=True)
        return out.astype({c: "str" for c in REJECTED_COLUMNS})[list(REJECTED_COLUMNS)]


def where(tables: Sequence[CsvTable], table_idx: pd.Series, record: pd.Series) -> list[str]:
    """'file line N' for rows carrying ``_table`` / ``_record`` bookkeeping columns."""
    out = [""] * len(table_idx)
    t_idx, recs = table_idx.to_numpy(), record.to_numpy()
    for t in np.unique(t_idx):
        pos = np.flatnonzero(t_idx == t)
        lines = tables[int(t)].lines(recs[pos])
        for p, ln in zip(pos, lines):
            out[p] = f"{tables[int(t)].name} line {ln}"
    return out


def finalize(source: str, rows: pd.DataFrame, *, view_map: Mapping[str, str], tables: Sequence[CsvTable],
             rejections: Rejections, counts: dict[str, int], started: float) -> SourceTable:
    """Reject escaping paths, unknown views and duplicate ids; order and type the columns.

    ``rows`` carries the manifest columns except ``source`` and ``view``, plus ``_table`` (index
    into ``tables``) and ``_record`` (record number in that table) for error details.
    """
    rows = rows.reset_index(drop=True)
    normalized, escape = check_paths(rows["path"].astype("str"))
    rows["path"] = normalized
    if escape.any():
        bad = rows[escape.to_numpy()]
        detail = [f"{w}: path {p!r} is absolute or leaves the dataset root"
                  for w, p in zip(where(tables, bad["_table"], bad["_record"]), bad["path"])]
        rejections.add(bad["image_id"], bad["path"], "path_escape", detail)
        rows = rows[~escape.to_numpy()]

    view, unknown = apply_view_map(rows["view_native"], view_map)
    if unknown.any():
        bad = rows[unknown.to_numpy()]
        detail = [f"{w}: view {v!r} is not in the view map; add it to the view map to keep the image"
                  for w, v in zip(where(tables, bad["_table"], bad["_record"]), bad["view_native"])]
        rejections.add(bad["image_id"], bad["path"], "unknown_view", detail)
    rows = rows.assign(view=view)[~unknown.to_numpy()]

    dup = rows["image_id"].duplicated(keep="first")
    if dup.any():
        bad = rows[dup.to_numpy()]
        first = rows.drop_duplicates("image_id", keep="first").set_index("image_id")
        firsts = first.loc[bad["image_id"]]
        first_where = where(tables, firsts["_table"], firsts["_record"])
        detail = [f"{w}: image_id {i!r} already read from {f}; kept the first"
                  for w, i, f in zip(where(tables, bad["_table"], bad["_record"]), bad["image_id"], first_where)]
        rejections.add(bad["image_id"], bad["path"], "duplicate_id", detail)
        rows = rows[~dup.to_numpy()]

    rows = rows.drop(columns=[c for c in rows.columns if c.startswith("_")])
    rows.insert(0, "source", source)
    rest = [c for c in rows.columns if c not in MANIFEST_COLUMNS]
    manifest = rows[list(MANIFEST_COLUMNS) + rest].reset_index(drop=True)
    manifest = manifest.astype({c: "str" for c in _STRING_COLUMNS} | {"age": "float64"})

    rejected = rejections.frame()
    for reason, n in rejected["reason"].value_counts(sort=False).items():
        counts[f"rejected/{reason}"] = int(n)
    counts["manifest_rows"] = len(manifest)
    seconds = time.perf_counter() - started
    log.info("%s: %d images, %d rejected, read in %.2f s (%.0f images/s)", source, len(manifest),
             len(rejected), seconds, len(manifest) / max(seconds, 1e-9))
    return SourceTable(manifest, rejected, counts)
