from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sourcefiles import lines, write

from cxrinit.sources import (FORMATS, MANIFEST_COLUMNS, VIEWS, SourceFormatError, get_format, read_source,
                             register_source)
from cxrinit.sources.base import check_paths
from cxrinit.sources.terms import parse_cell, parse_terms
from cxrinit.sources.views import apply_view_map, check_view_map


@pytest.mark.parametrize("cell, style, terms, notes", [
    ("Cardiomegaly|Effusion", "pipe", "Cardiomegaly|Effusion", None),
    ("No Finding", "pipe", "No Finding", None),
    (" Mass |Nodule", "pipe", "Mass|Nodule", "stray_spaces"),
    ("Mass||Nodule|", "pipe", "Mass|Nodule", "empty_terms"),
    ("", "pipe", None, "missing"),
    ("['pleural effusion', 'cardiomegaly']", "pylist", "pleural effusion|cardiomegaly", None),
    ("[' pleural effusion', 'cardiomegaly ']", "pylist", "pleural effusion|cardiomegaly", "stray_spaces"),
    ("['', 'nodule']", "pylist", "nodule", "empty_terms"),
    ("['nodule', 'nodule']", "pylist", "nodule|nodule", "duplicate_terms"),
    ("[]", "pylist", "", "empty_list"),
    ("['a|b']", "pylist", "a/b", "pipe_in_term"),
    ("'normal'", "pylist", "normal", "not_a_list"),
    ("[normal, 'copd signs']", "pylist", "normal|copd signs", "unparsed_list"),
    # never evaluated: literal_eval refuses calls, the fallback keeps the text as a term
    ("__import__('os').system('false')", "pylist", "__import__('os').system('false')", "unparsed_list"),
    (None, "pylist", None, "missing"),
])
def test_parse_cell(cell, style, terms, notes):
    assert parse_cell(cell, style) == (terms, notes)


@pytest.mark.parametrize("cell", ["['a', 'b c']", "[ 'a' ,'b' ]", "['']", "[' x ', '']", "[]", "['a,b', 'c']"])
def test_fast_list_path_agrees_with_literal_eval(cell):
    import ast

    from cxrinit.sources.terms import _SIMPLE_LIST
    assert _SIMPLE_LIST.fullmatch(cell)
    expected = [t.strip() for t in ast.literal_eval(cell) if t.strip()]
    assert (parse_cell(cell, "pylist")[0] or "").split("|") == (expected or [""])


def test_parse_terms_counts_rows_not_distinct_cells():
    cells = pd.Series(["['a']", "[' a']", "[' a']", None, "['a']"], dtype="str")
    terms, quality, notes = parse_terms(cells, "pylist")
    assert terms.tolist()[:3] == ["a", "a", "a"] and pd.isna(terms[3])
    assert quality.isna().tolist() == [True, False, False, False, True]
    assert notes == {"stray_spaces": 2, "missing": 1}


def test_view_map_exact_glob_blank_unknown():
    native = pd.Series(["Frontal|AP", "Frontal|RL", "Lateral", None, "Oblique"], dtype="str")
    view, unknown = apply_view_map(native, {**get_format("chexpert").view_map, "": "OTHER"})
    assert view.tolist()[:4] == ["AP", "OTHER", "LATERAL", "OTHER"]
    assert unknown.tolist() == [False, False, False, False, True]
    with pytest.raises(ValueError, match="targets must be one of"):
        check_view_map({"PA": "FRONTAL"}, "nih")


def test_check_paths():
    paths = pd.Series(["a/b.png", "a/../b.png", "./c.png", "a//d.png", "a/../../e.png", "..", "/abs.png",
                       "C:\\x.png", "..\\x.png", "a/..b.png"], dtype="str")
    normalized, escape = check_paths(paths)
    assert escape.tolist() == [False, False, False, False, True, True, True, True, True, False]
    assert normalized.tolist()[:4] == ["a/b.png", "b.png", "c.png", "a/d.png"]
    assert normalized.tolist()[9] == "a/..b.png"


def test_every_reader_module_registers_its_format_once():
    assert set(FORMATS) == {"vindr", "nih", "chexpert", "mimic", "uka", "padchest", "folder"}
    for fmt in FORMATS.values():
        assert fmt.layout and set(fmt.view_map.values()) <= set(VIEWS), fmt.name
    # the study: every public dataset but MIMIC itself is a MIMIC-pretraining target; a user's folder is not
    assert {f.name for f in FORMATS.values() if f.mimic_target} == {"vindr", "nih", "chexpert", "uka", "padchest"}
    assert get_format("uka").options == {"labels_file": "labels.csv", "image_dir": "images", "image_ext": ".dcm"}
    with pytest.raises(ValueError, match="registered twice"):
        register_source("nih", view_map={}, layout="x")(lambda root, *, view_map=None, source="x": None)
    with pytest.raises(ValueError, match="unknown source format 'vindrr' \\(did you mean 'vindr'\\?\\)"):
        read_source("vindrr", ".")


def test_read_source_names_the_dataset_and_checks_reader_options(tmp_path):
    write(tmp_path / "mine.csv", "path,patient_id,finding\na.png,p1,1\n")
    table = read_source("folder", tmp_path, source="hospital_a", labels_file="mine.csv")
    assert set(table.manifest["source"]) == {"hospital_a"}
    with pytest.raises(TypeError, match="unknown reader option 'label_file' \\(did you mean 'labels_file'\\?\\)"):
        read_source("folder", tmp_path, label_file="mine.csv")


def test_blank_lines_keep_line_numbers_and_parquet_round_trip(tmp_path):
    write(tmp_path / "labels.csv", "path,patient_id,split,finding\na.png,p1,train,1\n\nb.png,p2,test,0\n")
    table = read_source("folder", tmp_path)
    assert table.counts["read/labels.csv"] == 2 and len(table.manifest) == 2
    assert list(table.manifest.columns[:10]) == list(MANIFEST_COLUMNS)
    table.manifest.to_parquet(tmp_path / "m.parquet")
    back = pd.read_parquet(tmp_path / "m.parquet")
    pd.testing.assert_frame_equal(back, table.manifest, check_dtype=False)
    assert back["official_split"].tolist() == ["train", "test"]

    write(tmp_path / "labels.csv", "path,patient_id,split,finding\na.png,p1,train,1\n\nb.png,p2,test,x\n")
    with pytest.raises(SourceFormatError, match="column 'finding', line 4"):
        read_source("folder", tmp_path)


def test_ragged_rows(tmp_path):
    # short rows are padded, a trailing empty field beyond the header is tolerated (NIH's old file)
    write(tmp_path / "labels.csv", lines("path,patient_id,split", "a.png,p1,train,", "b.png,p2", "", "c.png,p3,x"))
    with pytest.raises(SourceFormatError, match="column 'split', line 5: unexpected value"):
        read_source("folder", tmp_path)
    write(tmp_path / "labels.csv", lines("path,patient_id,split", "a.png,p1,train,", "b.png,p2"))
    assert read_source("folder", tmp_path).manifest["official_split"].isna().tolist() == [False, True]


def test_empty_and_malformed_csv(tmp_path):
    write(tmp_path / "labels.csv", "")
    with pytest.raises(SourceFormatError, match="labels.csv: file is empty"):
        read_source("folder", tmp_path)
    write(tmp_path / "labels.csv", lines("path,patient_id", "a.png,p1", "b.png,p2,extra"))
    with pytest.raises(SourceFormatError, match="labels.csv, line 3: malformed CSV: 3 fields where the header has 2"):
        read_source("folder", tmp_path)


@pytest.mark.parametrize("marker", ["", "nan", "NaN", "None", "NA", "N/A", "null", " NULL "])
def test_every_missing_value_spelling_is_missing_and_never_a_value(tmp_path, marker):
    write(tmp_path / "labels.csv", lines("path,patient_id,split,sex,age,effusion",
                                         f"a.png,p1,{marker},{marker},{marker},{marker}", "b.png,p2,train,F,60,1"))
    table = read_source("folder", tmp_path)
    first = table.manifest.iloc[0]
    assert pd.isna(first["official_split"]) and pd.isna(first["sex"]) and np.isnan(first["age"])
    assert np.isnan(first["label:effusion"])                  # a missing label cell is a missing label, not a 0
    assert not any(k.startswith("unreadable/") for k in table.counts)
    write(tmp_path / "labels.csv", lines("path,patient_id", f"a.png,{marker}"))
    with pytest.raises(SourceFormatError, match=r"column 'patient_id', line 2: required value is missing"):
        read_source("folder", tmp_path)                       # a required column keeps its precise error


def test_quoted_cells_spanning_lines_stay_on_the_fast_parser(tmp_path, caplog):
    """PadChest's reports span lines; they once sent the whole 160,861-row table to the record-by-record path."""
    body = "".join(f'img{i}.png,p{i},"line one\nline two",1\n' for i in range(3000))
    write(tmp_path / "labels.csv", "path,patient_id,report,effusion\n" + body)
    with caplog.at_level("DEBUG", logger="cxrinit.sources.base"):
        table = read_source("folder", tmp_path, ignore=["report"])
    assert len(table.manifest) == 3000 and "record by record" not in caplog.text
    write(tmp_path / "labels.csv", lines("path,patient_id,split", "a.png,p1,train,", "b.png,p2"))  # ragged
    with caplog.at_level("DEBUG", logger="cxrinit.sources.base"):
        assert len(read_source("folder", tmp_path).manifest) == 2
    assert "record by record" in caplog.text
