from __future__ import annotations

import numpy as np
import pytest
from sourcefiles import core, lines, write

from cxrinit.sources import SourceFormatError, vindr

LABELS = vindr.LABELS
HEADER = "image_id,rad_id," + ",".join(LABELS)


def row(image_id: str, rad_id: str | None, *positive: str) -> str:
    votes = ",".join("1" if name in positive else "0" for name in LABELS)
    return f"{image_id},{rad_id},{votes}" if rad_id is not None else f"{image_id},{votes}"


def make(root, *, test_rad_id: bool = False):
    write(root / "annotations/image_labels_train.csv", lines(
        HEADER,
        row("a1", "R8", "Cardiomegaly", "Pleural effusion"),
        row("a1", "R9", "Cardiomegaly"),
        row("a1", "R10", "No finding"),
        row("b2", "R2", "No finding"),
        row("b2", "R3", "No finding"),
        row("b2", "R2", "Nodule/Mass"),  # the same reader twice: a later row is rejected
        row("b2", "R4", "No finding"),
    ))
    test_header = "image_id,rad_id," + ",".join(LABELS) if test_rad_id else "image_id," + ",".join(LABELS)
    write(root / "annotations/image_labels_test.csv", lines(
        test_header,
        row("c3", "R11" if test_rad_id else None, "Pneumothorax"),
        row("a1", "R11" if test_rad_id else None, "No finding"),  # also a train image: rejected
    ))


def test_votes_readers_and_consensus(tmp_path):
    make(tmp_path)
    table = vindr.read(tmp_path)  # no image files exist: the reader never needs them
    m = table.manifest
    assert core(m) == [
        dict(source="vindr", image_id="a1", path="train/a1.dicom", patient_id="a1", study_id="a1", view="PA",
             view_native=None, sex=None, age=None, official_split="train"),
        dict(source="vindr", image_id="b2", path="train/b2.dicom", patient_id="b2", study_id="b2", view="PA",
             view_native=None, sex=None, age=None, official_split="train"),
        dict(source="vindr", image_id="c3", path="test/c3.dicom", patient_id="c3", study_id="c3", view="PA",
             view_native=None, sex=None, age=None, official_split="test"),
    ]
    label_cols = [c for c in m.columns if c.startswith("label:")]
    assert label_cols == [f"label:{n}" for n in LABELS]
    assert list(m.columns[10 + len(LABELS):]) == ["n_readers", "label_consensus", "rad_ids"]
    assert m["label:Cardiomegaly"].tolist() == [2, 0, 0]
    assert m["label:Pleural effusion"].tolist() == [1, 0, 0]
    assert m["label:No finding"].tolist() == [1, 3, 0]
    assert m["label:Nodule/Mass"].tolist() == [0, 0, 0]  # the repeated reader's vote is not counted
    assert m["label:Pneumothorax"].tolist() == [0, 0, 1]
    assert m["n_readers"].tolist() == [3, 3, 1]
    assert m["label_consensus"].tolist() == [False, False, True]
    assert m["rad_ids"].tolist()[:2] == ["R8|R9|R10", "R2|R3|R4"] and m["rad_ids"].isna().tolist()[2]
    assert str(m["label:Cardiomegaly"].dtype) == "float64"  # a missing vote is NaN
    # majority rule, as harmonization will apply it: 2 of 3 on train, the consensus on test
    assert (2 * m["label:Cardiomegaly"] > m["n_readers"]).tolist() == [True, False, False]

    rej = table.rejected
    assert rej[["image_id", "path", "reason"]].values.tolist() == [
        ["b2", "train/b2.dicom", "duplicate_reader_row"],
        ["a1", "test/a1.dicom", "duplicate_id"],
    ]
    assert rej["detail"][0].startswith("annotations/image_labels_train.csv line 7:")
    assert rej["detail"][1] == ("annotations/image_labels_test.csv line 3: image_id 'a1' already read from "
                                "annotations/image_labels_train.csv line 2; kept the first")
    assert table.counts == {
        "read/annotations/image_labels_train.csv": 7, "read/annotations/image_labels_test.csv": 2,
        "rejected/duplicate_reader_row": 1, "rejected/duplicate_id": 1, "manifest_rows": 3,
    }


def test_test_file_with_rad_id(tmp_path):
    make(tmp_path, test_rad_id=True)
    m = vindr.read(tmp_path).manifest
    assert m["rad_ids"].tolist() == ["R8|R9|R10", "R2|R3|R4", "R11"]


def test_bad_vote_names_file_column_line(tmp_path):
    make(tmp_path)
    path = tmp_path / "annotations/image_labels_train.csv"
    text = path.read_text().splitlines()
    text[3] = text[3].replace("a1,R10,0,", "a1,R10,2,", 1)  # Aortic enlargement = 2
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(SourceFormatError) as err:
        vindr.read(tmp_path)
    msg = str(err.value)
    assert "annotations/image_labels_train.csv" in msg and "'Aortic enlargement'" in msg and "line 4" in msg
    assert "'2'" in msg and err.value.line == 4


def test_missing_file_and_column(tmp_path):
    with pytest.raises(SourceFormatError, match=r"image_labels_train\.csv: VinDr train labels not found"):
        vindr.read(tmp_path, layout="physionet")
    make(tmp_path)
    path = tmp_path / "annotations/image_labels_test.csv"
    path.write_text(path.read_text().replace(",Pneumothorax,", ",Pneumothoraxx,"))
    with pytest.raises(SourceFormatError, match=r"image_labels_test\.csv, column 'Pneumothorax', line 1: missing"):
        vindr.read(tmp_path)


def test_a_missing_vote_is_unknown_never_a_no(tmp_path):
    make(tmp_path)
    path = tmp_path / "annotations/image_labels_train.csv"
    text = path.read_text().splitlines()
    cells = text[2].split(",")                                 # a1, R9: its Cardiomegaly vote goes missing
    cells[2 + LABELS.index("Cardiomegaly")] = "NA"
    text[2] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    m = vindr.read(tmp_path).manifest.set_index("image_id")
    assert np.isnan(m.at["a1", "label:Cardiomegaly"])          # 1 + ? + 0: the majority is unknown
    assert m.at["a1", "label:Pleural effusion"] == 1 and m.at["b2", "label:Cardiomegaly"] == 0


KAGGLE_HEADER = "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max"


def make_kaggle(root, *, test_images: int = 2):
    """The competition's train.csv: one row per box per radiologist; 'No finding' rows have no box."""
    write(root / "train.csv", lines(
        KAGGLE_HEADER,
        "k1,Cardiomegaly,3,R8,691,1375,1653,1831",
        "k1,Cardiomegaly,3,R8,700,1380,1650,1830",          # two boxes, one vote
        "k1,Pleural effusion,10,R8,1,2,3,4",
        "k1,Cardiomegaly,3,R9,690,1370,1655,1835",
        "k1,No finding,14,R10,,,,",
        "k2,No finding,14,R2,,,,",
        "k2,No finding,14,R3,,,,",
        "k2,Nodule/Mass,8,R4,10,20,30,40",
    ))
    (root / "test").mkdir(parents=True, exist_ok=True)
    for i in range(test_images):
        (root / "test" / f"t{i}.dicom").write_bytes(b"")


def test_the_kaggle_copy_is_read_from_its_box_table(tmp_path):
    make_kaggle(tmp_path)
    table = vindr.read(tmp_path)  # detected: no annotations/ folder, a train.csv of boxes
    m = table.manifest.set_index("image_id")
    assert list(m.index) == ["k1", "k2"] and set(m["path"]) == {"train/k1.dicom", "train/k2.dicom"}
    assert m.at["k1", "label:Cardiomegaly"] == 2 and m.at["k1", "label:Pleural effusion"] == 1
    assert m.at["k1", "label:No finding"] == 1 and m.at["k2", "label:No finding"] == 2
    assert m.at["k2", "label:Nodule/Mass"] == 1 and m.at["k2", "label:Cardiomegaly"] == 0
    assert m["n_readers"].tolist() == [3, 3] and m["rad_ids"].tolist() == ["R8|R9|R10", "R2|R3|R4"]
    for lacking in ("Pneumonia", "Tuberculosis", "Lung tumor", "COPD"):   # not in this copy: unknown, never 0
        assert m[f"label:{lacking}"].isna().all()
    assert m["official_split"].isna().all()                               # no test labels: harmonization carves
    assert table.counts["note/kaggle_test_images_without_labels"] == 2
    assert table.counts["note/kaggle_copy_test_split_carved_patient_wise"] == 2


def test_without_either_layout_the_error_names_both(tmp_path):
    with pytest.raises(SourceFormatError) as err:
        vindr.read(tmp_path)
    message = str(err.value)
    assert "physionet.org/content/vindr-cxr/1.0.0" in message and "kaggle.com/c/vinbigdata" in message
    assert "annotations/image_labels_train.csv" in message and "train.csv with one row per box" in message
    write(tmp_path / "train.csv", lines(KAGGLE_HEADER, "k1,Pneumonia,99,R1,,,,"))
    with pytest.raises(SourceFormatError, match=r"train.csv, column 'class_name', line 2: unexpected class"):
        vindr.read(tmp_path)
