from __future__ import annotations

import math

import pytest
from sourcefiles import core, lines, write

from cxrinit.sources import SourceFormatError, folder


def test_own_csv_with_labels_and_defaults(tmp_path):
    write(tmp_path / "labels.csv", lines(
        "path,patient_id,view,split,sex,age,effusion,nodule,notes,",
        "scans/a.png,p1,PA,train,female,61,1,0,first,",
        "scans\\b.png,p1,LATERAL,Validation,M,,0,,second,",
        "c.dcm,p2,,test,,47.5,-1,1,,",
        "../outside.png,p3,PA,train,F,30,0,0,,",
        "/abs/d.png,p3,PA,train,F,30,0,0,,",
        "scans/a.jpg,p4,AP,train,F,30,0,0,,",  # same image_id as scans/a.png once the extension is gone
        "e.png,p5,OBLIQUE,train,F,30,0,0,,",
    ))
    table = folder.read(tmp_path, ignore=["notes"])
    m = table.manifest
    assert core(m) == [
        dict(source="folder", image_id="scans/a", path="scans/a.png", patient_id="p1", study_id="scans/a", view="PA",
             view_native="PA", sex="F", age=61.0, official_split="train"),
        dict(source="folder", image_id="scans/b", path="scans/b.png", patient_id="p1", study_id="scans/b",
             view="LATERAL", view_native="LATERAL", sex="M", age=None, official_split="val"),
        dict(source="folder", image_id="c", path="c.dcm", patient_id="p2", study_id="c", view="OTHER",
             view_native=None, sex=None, age=47.5, official_split="test"),
    ]
    assert list(m.columns[10:]) == ["label:effusion", "label:nodule"]
    assert m["label:effusion"].tolist() == [1.0, 0.0, -1.0] and math.isnan(m["label:nodule"][1])
    assert table.rejected["reason"].tolist() == ["path_escape", "path_escape", "unknown_view", "duplicate_id"]
    assert table.rejected["path"].tolist() == ["../outside.png", "/abs/d.png", "e.png", "scans/a.jpg"]
    assert table.rejected["detail"][2] == ("labels.csv line 8: view 'OBLIQUE' is not in the view map; "
                                           "add it to the view map to keep the image")
    assert table.counts["note/backslash_paths"] == 1 and table.counts["note/empty_unnamed_columns"] == 1


def test_column_names_options_and_source_name(tmp_path):
    write(tmp_path / "meta" / "my.csv",
          lines("file,subject,id,visit,finding", "x/1.png,s1,i1,v1,1", "x/2.png,s1,i2,,0"))
    table = folder.read(tmp_path, labels_file="meta/my.csv", source="mydata",
                        columns={"path": "file", "patient_id": "subject", "image_id": "id", "study_id": "visit"})
    m = table.manifest
    assert m["source"].tolist() == ["mydata", "mydata"]
    assert m["image_id"].tolist() == ["i1", "i2"] and m["study_id"].tolist() == ["v1", "i2"]
    assert m["patient_id"].tolist() == ["s1", "s1"] and m["label:finding"].tolist() == [1.0, 0.0]
    assert table.counts["read/meta/my.csv"] == 2


def test_errors(tmp_path):
    with pytest.raises(SourceFormatError, match="labels.csv: label table not found"):
        folder.read(tmp_path)
    write(tmp_path / "labels.csv", lines("path,effusion", "a.png,1"))
    with pytest.raises(SourceFormatError, match="labels.csv, column 'patient_id', line 1: missing required.*"
                                                 r"name yours under sources.folder.options.columns"):
        folder.read(tmp_path)
    write(tmp_path / "labels.csv", lines("path,subject,effusion", "a.png,p1,1"))
    with pytest.raises(SourceFormatError, match=r"column 'pid', line 1: missing required.*the header has 'path', "
                                                 r"'subject'.*Name your file's columns in "
                                                 r"sources.hospital.options.columns \(it maps \{'patient_id': 'pid'\}\)"):
        folder.read(tmp_path, columns={"patient_id": "pid"}, source="hospital")
    write(tmp_path / "labels.csv", lines("path,patient_id,effusion", "a.png,p1,1", "b.png,p2,yes"))
    with pytest.raises(SourceFormatError, match=r"labels.csv, column 'effusion', line 3: .*'yes'.*ignore="):
        folder.read(tmp_path)
    write(tmp_path / "labels.csv", lines("path,patient_id", "a.png,p1", ",p2"))
    with pytest.raises(SourceFormatError, match=r"labels.csv, column 'path', line 3: required value is missing \(blank or a "
                                                 r"missing-value marker\)"):
        folder.read(tmp_path)
    with pytest.raises(ValueError, match="unknown column role"):
        folder.read(tmp_path, columns={"label": "x"})
