from __future__ import annotations

import math

import pytest
from sourcefiles import core, lines, write

from cxrinit.sources import SourceFormatError, chexpert

HEADER = ("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
          "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,"
          "Fracture,Support Devices")
TOP = "CheXpert-v1.0-small"
TRAIN = (
    f"{TOP}/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0",
    f"{TOP}/train/patient00002/study2/view1_frontal.jpg,Male,87,Frontal,PA,,,-1.0,1.0,,-1.0,,,,,,,1.0,",
    f"{TOP}/train/patient00002/study2/view2_lateral.jpg,Male,87,Lateral,,,,-1.0,1.0,,-1.0,,,,,,,1.0,",
    f"{TOP}/train/patient00003/study1/view1_frontal.jpg,Unknown,0,Frontal,LL,,,,,,,,,,,1.0,,,",
    "../secret/patient00004/study1/view1_frontal.jpg,Male,50,Frontal,AP,1.0,,,,,,,,,,,,,",
    "/data/CheXpert-v1.0-small/train/patient00005/study1/view1_frontal.jpg,Male,50,Frontal,AP,1.0,,,,,,,,,,,,,",
)
VALID = (
    f"{TOP}/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,0.0,1.0,1.0,1.0,0.0,0.0,0.0,0.0,0.0,"
    "0.0,0.0,0.0,0.0,1.0",
    f"{TOP}/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,"
    "0.0,0.0,0.0,0.0,1.0",
)


def make(root, train=TRAIN, valid=VALID, top=TOP):
    write(root / top / "train.csv", lines(HEADER, *train))
    write(root / top / "valid.csv", lines(HEADER, *valid))


def test_manifest_small_release(tmp_path):
    make(tmp_path)
    table = chexpert.read(tmp_path)
    m = table.manifest
    assert core(m) == [
        dict(source="chexpert", image_id="train/patient00001/study1/view1_frontal",
             path=f"{TOP}/train/patient00001/study1/view1_frontal.jpg", patient_id="patient00001",
             study_id="patient00001/study1", view="AP", view_native="Frontal|AP", sex="F", age=68.0,
             official_split="train"),
        dict(source="chexpert", image_id="train/patient00002/study2/view1_frontal",
             path=f"{TOP}/train/patient00002/study2/view1_frontal.jpg", patient_id="patient00002",
             study_id="patient00002/study2", view="PA", view_native="Frontal|PA", sex="M", age=87.0,
             official_split="train"),
        dict(source="chexpert", image_id="train/patient00002/study2/view2_lateral",
             path=f"{TOP}/train/patient00002/study2/view2_lateral.jpg", patient_id="patient00002",
             study_id="patient00002/study2", view="LATERAL", view_native="Lateral", sex="M", age=87.0,
             official_split="train"),
        dict(source="chexpert", image_id="train/patient00003/study1/view1_frontal",
             path=f"{TOP}/train/patient00003/study1/view1_frontal.jpg", patient_id="patient00003",
             study_id="patient00003/study1", view="OTHER", view_native="Frontal|LL", sex=None, age=0.0,
             official_split="train"),
        dict(source="chexpert", image_id="valid/patient64541/study1/view1_frontal",
             path=f"{TOP}/valid/patient64541/study1/view1_frontal.jpg", patient_id="patient64541",
             study_id="patient64541/study1", view="AP", view_native="Frontal|AP", sex="M", age=73.0,
             official_split="val"),
    ]
    assert [c for c in m.columns if c.startswith("label:")] == [f"label:{n}" for n in chexpert.LABELS]
    row = m.iloc[1]
    assert math.isnan(row["label:No Finding"]) and row["label:Cardiomegaly"] == -1.0
    assert row["label:Lung Opacity"] == 1.0 and row["label:Fracture"] == 1.0
    assert m.iloc[0]["label:Pneumothorax"] == 0.0 and m.iloc[0]["label:Support Devices"] == 1.0
    assert str(m["label:Edema"].dtype) == "float64"
    rej = table.rejected
    assert rej["reason"].tolist() == ["path_escape", "path_escape", "duplicate_id"]
    assert rej["path"].tolist()[2] == f"{TOP}/train/patient00001/study1/view1_frontal.jpg"
    assert rej["detail"].tolist()[0].startswith("CheXpert-v1.0-small/train.csv line 6: path '../secret/")
    assert rej["detail"].tolist()[1].startswith("CheXpert-v1.0-small/train.csv line 7: path '/data/")
    assert rej["detail"].tolist()[2].startswith("CheXpert-v1.0-small/valid.csv line 3: image_id")
    assert table.counts["rejected/path_escape"] == 2 and table.counts["read/CheXpert-v1.0-small/train.csv"] == 6


def test_full_release_prefix_and_renamed_folder(tmp_path):
    full = [r.replace(TOP, "CheXpert-v1.0") for r in TRAIN[:2]]
    make(tmp_path, train=full, valid=VALID[:1], top="CheXpert-v1.0")
    m = chexpert.read(tmp_path).manifest
    assert m["path"].tolist()[0] == "CheXpert-v1.0/train/patient00001/study1/view1_frontal.jpg"
    assert m["image_id"].tolist()[0] == "train/patient00001/study1/view1_frontal"
    # valid.csv still says -small: rewritten to the folder that is actually there
    assert m["path"].tolist()[2] == "CheXpert-v1.0/valid/patient64541/study1/view1_frontal.jpg"


def test_both_release_folders_need_a_choice(tmp_path):
    make(tmp_path)
    make(tmp_path, train=[r.replace(TOP, "CheXpert-v1.0") for r in TRAIN[:1]], valid=(), top="CheXpert-v1.0")
    with pytest.raises(SourceFormatError, match="folder="):
        chexpert.read(tmp_path)
    assert len(chexpert.read(tmp_path, folder="CheXpert-v1.0").manifest) == 1


def test_label_value_2_names_file_column_line(tmp_path):
    train = list(TRAIN)
    train[2] = train[2].replace("Lateral,,,,-1.0,", "Lateral,,,,2.0,")
    make(tmp_path, train=train)
    with pytest.raises(SourceFormatError) as err:
        chexpert.read(tmp_path)
    assert str(err.value).startswith(
        f"{tmp_path}/CheXpert-v1.0-small/train.csv, column 'Cardiomegaly', line 4: "
        "value is not one of 1, 0, -1 or blank: '2.0'")


def test_an_unexpected_sex_is_missing_and_counted_a_bad_path_stops_the_read(tmp_path):
    make(tmp_path, train=[TRAIN[0].replace("Female", "X")])
    table = chexpert.read(tmp_path)  # nothing later needs the sex: the image stays, its sex is missing
    assert table.manifest["sex"].isna().iloc[0]
    (key,) = [k for k in table.counts if k.startswith("unreadable/")]
    assert key.startswith("unreadable/CheXpert-v1.0-small/train.csv:Sex (expected 'Male', 'Female', 'Unknown' or blank;"
                          " e.g. line 2: 'X'") and table.counts[key] == 1
    make(tmp_path, train=[TRAIN[0].replace("patient00001/", "")])
    with pytest.raises(SourceFormatError, match="column 'Path', line 2: path is not like"):
        chexpert.read(tmp_path)


def test_missing_release_folder(tmp_path):
    with pytest.raises(SourceFormatError, match="no CheXpert release folder found"):
        chexpert.read(tmp_path)
