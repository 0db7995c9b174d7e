from __future__ import annotations

import pytest
from sourcefiles import core, lines, write

from cxrinit.sources import SourceFormatError, uka

HEADER = ("image_id,split,subset,cardiomegaly,congestion,pleural_effusion_right,pleural_effusion_left,"
          "pneumonic_infiltrates_right,pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,healthy,"
          "patient_id,age,sex")
ROWS = (
    "u0001,train,icu,3,0,4,1,0,0,2,0,0,P17,71,M",
    "u0002,train,icu,0,0,0,0,0,0,0,0,1,P17,71,M",
    "u0003,test,icu,5,2,0,3,1,5,0,0,0,P42,,female",
    "u0004,,icu,1,1,1,1,1,1,1,1,0,P43,55.5,",
)


def make(root, rows=ROWS, header=HEADER):
    write(root / "labels.csv", lines(header, *rows))


def test_grades_per_side(tmp_path):
    make(tmp_path)
    table = uka.read(tmp_path)
    m = table.manifest
    assert core(m, "subset") == [
        dict(source="uka", image_id="u0001", path="images/u0001.dcm", patient_id="P17", study_id="u0001", view="AP",
             view_native=None, sex="M", age=71.0, official_split="train", subset="icu"),
        dict(source="uka", image_id="u0002", path="images/u0002.dcm", patient_id="P17", study_id="u0002", view="AP",
             view_native=None, sex="M", age=71.0, official_split="train", subset="icu"),
        dict(source="uka", image_id="u0003", path="images/u0003.dcm", patient_id="P42", study_id="u0003", view="AP",
             view_native=None, sex="F", age=None, official_split="test", subset="icu"),
        dict(source="uka", image_id="u0004", path="images/u0004.dcm", patient_id="P43", study_id="u0004", view="AP",
             view_native=None, sex=None, age=55.5, official_split=None, subset="icu"),
    ]
    assert [c for c in m.columns if c.startswith("label:")] == [f"label:{g}" for g in uka.GRADED] + ["label:healthy"]
    assert m["label:pleural_effusion_right"].tolist() == [4, 0, 0, 1]
    assert m["label:pleural_effusion_left"].tolist() == [1, 0, 3, 1]
    assert m["label:pneumonic_infiltrates_left"].tolist() == [0, 0, 5, 1]
    assert m["label:healthy"].tolist() == [0, 1, 0, 0]
    assert str(m["label:cardiomegaly"].dtype) == "float64"  # a missing grade is NaN
    assert len(table.rejected) == 0 and table.counts["read/labels.csv"] == 4


def test_options_for_names(tmp_path):
    write(tmp_path / "table.csv", lines(HEADER, *ROWS[:1]))
    m = uka.read(tmp_path, labels_file="table.csv", image_dir="dicom", image_ext=".dicom").manifest
    assert m["path"].tolist() == ["dicom/u0001.dicom"]


@pytest.mark.parametrize("bad, column, shown", [
    ("u0003,test,icu,7,2,0,3,1,5,0,0,0,P42,,female", "cardiomegaly", "'7'"),
    ("u0003,test,icu,5,2,0,3,1,5,0,0,2,P42,,female", "healthy", "'2'"),
    ("u0003,tst,icu,5,2,0,3,1,5,0,0,0,P42,,female", "split", "'tst'"),
])
def test_unparseable_values_name_file_column_line(tmp_path, bad, column, shown):
    make(tmp_path, rows=(*ROWS[:2], bad))
    with pytest.raises(SourceFormatError) as err:
        uka.read(tmp_path)
    assert str(err.value).startswith(f"{tmp_path}/labels.csv, column '{column}', line 4: ")
    assert shown in str(err.value)


def test_a_missing_grade_is_a_missing_label_and_an_unreadable_age_is_missing(tmp_path):
    make(tmp_path, rows=(*ROWS[:2], "u0003,test,icu,5,2,0,3,1,5,0,NA,0,P42,abc,female"))
    table = uka.read(tmp_path)
    assert table.manifest["label:atelectasis_left"].isna().tolist() == [False, False, True]
    assert table.manifest["age"].isna().tolist()[2]
    assert any(k.startswith("unreadable/labels.csv:age") and "line 4: 'abc'" in k for k in table.counts)


def test_missing_file_and_column(tmp_path):
    with pytest.raises(SourceFormatError, match=r"labels.csv: UKA label table not found"):
        uka.read(tmp_path)
    make(tmp_path, header=HEADER.replace("healthy", "normal"), rows=ROWS[:1])
    with pytest.raises(SourceFormatError, match=r"labels.csv, column 'healthy', line 1: missing required column"):
        uka.read(tmp_path)
