from __future__ import annotations

import math

import pandas as pd
import pytest
from sourcefiles import core, lines, write

from cxrinit.sources import SourceFormatError, mimic

META_HEADER = ("dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,"
               "StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
               "PatientOrientationCodeSequence_CodeMeaning")
META = (
    "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014,10000032,50414267,CHEST (PA AND LAT),PA,3056,2544,21800506,"
    "213014.531,CHEST (PA AND LAT),postero-anterior,Erect",
    "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962,10000032,50414267,CHEST (PA AND LAT),LATERAL,3056,2544,21800506,"
    "213014.531,CHEST (PA AND LAT),lateral,Erect",
    "d0b71acc-b5a62046-bbb5f6b8-7b173b85-65cdf738,10000032,53189527,CHEST (PORTABLE AP),AP,2705,2539,21800626,"
    "165500.312,CHEST (PORTABLE AP),antero-posterior,",
    "d1,11000011,51000000,CHEST (PA AND LAT),LL,3056,2544,21500101,101010.1,CHEST (PA AND LAT),left lateral,Erect",
    "d2,12000000,52000000,,,3056,2544,21500101,101010.1,,,",
    "d3,12000000,59999999,CHEST (PA AND LAT),PA,3056,2544,21500101,101010.1,CHEST (PA AND LAT),postero-anterior,",
    "d4,13000000,53000000,CHEST (PORTABLE AP),AP AXIAL,3056,2544,21500101,101010.1,CHEST (PORTABLE AP),,",
)
SPLIT = (
    "dicom_id,study_id,subject_id,split",
    "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014,50414267,10000032,train",
    "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962,50414267,10000032,train",
    "d0b71acc-b5a62046-bbb5f6b8-7b173b85-65cdf738,53189527,10000032,validate",
    "d1,51000000,11000011,test",
    "d2,52000000,12000000,test",
    "d3,59999999,12000000,train",
)
LABEL_HEADER = "subject_id,study_id," + ",".join(mimic.LABELS)


def label_row(subject: str, study: str, **values: str) -> str:
    """One chexpert-file row; keyword names are the label names with spaces as underscores."""
    cells = [values.get(name.replace(" ", "_"), "") for name in mimic.LABELS]
    return ",".join([subject, study, *cells])


LABELS = (
    LABEL_HEADER,
    label_row("10000032", "50414267", No_Finding="1.0"),
    label_row("10000032", "53189527", No_Finding="1.0"),
    label_row("11000011", "51000000", Atelectasis="1.0", Cardiomegaly="-1.0", Lung_Opacity="1.0",
              Pleural_Other="0.0", Pneumothorax="1.0"),
    label_row("12000000", "52000000", No_Finding="1.0"),
    label_row("13000000", "53000000", Atelectasis="0.0"),
    label_row("14000000", "54000000", Atelectasis="1.0"),
)


def make(root, meta=META, split=SPLIT, labels=LABELS, ext=".csv.gz"):
    write(root / f"mimic-cxr-2.0.0-metadata{ext}", lines(META_HEADER, *meta))
    write(root / f"mimic-cxr-2.0.0-split{ext}", lines(*split))
    write(root / f"mimic-cxr-2.0.0-chexpert{ext}", lines(*labels))


def expected(dicom, subject, study, view, native, split):
    return dict(source="mimic", image_id=dicom, path=f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg",
                patient_id=subject, study_id=study, view=view, view_native=native, sex=None, age=None,
                official_split=split)


def test_join_on_dicom_and_study(tmp_path):
    make(tmp_path)
    table = mimic.read(tmp_path)
    m = table.manifest
    assert core(m) == [
        expected("02aa804e-bde0afdd-112c0b34-7bc16630-4e384014", "10000032", "50414267", "PA", "PA", "train"),
        expected("174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962", "10000032", "50414267", "LATERAL", "LATERAL",
                 "train"),
        expected("d0b71acc-b5a62046-bbb5f6b8-7b173b85-65cdf738", "10000032", "53189527", "AP", "AP", "val"),
        expected("d1", "11000011", "51000000", "LATERAL", "LL", "test"),
        expected("d2", "12000000", "52000000", "OTHER", None, "test"),
        expected("d4", "13000000", "53000000", "OTHER", "AP AXIAL", None),
    ]
    assert m["path"][0] == "files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg"
    assert [c for c in m.columns if c.startswith("label:")] == [f"label:{n}" for n in mimic.LABELS]
    # study-level labels: both images of study 50414267 carry the study's row
    assert m["label:No Finding"].tolist()[:2] == [1.0, 1.0] and math.isnan(m["label:Atelectasis"][0])
    d1 = m.iloc[3]
    assert (d1["label:Atelectasis"], d1["label:Cardiomegaly"], d1["label:Lung Opacity"],
            d1["label:Pleural Other"], d1["label:Pneumothorax"]) == (1.0, -1.0, 1.0, 0.0, 1.0)
    assert m["study_date"].tolist()[0] == "21800506" and m["procedure"].tolist()[4] is not None
    assert list(m.columns[-3:]) == ["study_date", "study_time", "procedure"]
    rej = table.rejected
    assert rej[["image_id", "path", "reason"]].values.tolist() == [
        ["d3", "files/p12/p12000000/s59999999/d3.jpg", "no_label_row"]]
    assert rej["detail"][0] == ("mimic-cxr-2.0.0-metadata.csv.gz line 7: study s59999999 of subject p12000000 "
                                "has no row in mimic-cxr-2.0.0-chexpert.csv.gz")
    c = table.counts
    assert c["note/not_in_split_file"] == 1 and c["note/label_rows_without_images"] == 1
    assert c["read/mimic-cxr-2.0.0-metadata.csv.gz"] == 7 and c["rejected/no_label_row"] == 1


def test_plain_csv_names(tmp_path):
    make(tmp_path, ext=".csv")
    assert len(mimic.read(tmp_path).manifest) == 6


def test_split_disagreeing_with_metadata(tmp_path):
    split = list(SPLIT)
    split[4] = "d1,51000001,11000011,test"
    make(tmp_path, split=split)
    with pytest.raises(SourceFormatError) as err:
        mimic.read(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path}/mimic-cxr-2.0.0-metadata.csv.gz, column 'study_id', line 5: dicom_id 'd1'")
    assert "mimic-cxr-2.0.0-split.csv.gz line 5" in msg


def test_bad_values(tmp_path):
    split = list(SPLIT)
    split[3] = split[3].replace("validate", "valid")
    make(tmp_path, split=split)
    with pytest.raises(SourceFormatError, match=r"split.csv.gz, column 'split', line 4: unexpected value"):
        mimic.read(tmp_path)
    labels = list(LABELS)
    labels[5] = label_row("13000000", "53000000", Atelectasis="0.5")
    make(tmp_path, labels=labels)
    with pytest.raises(SourceFormatError, match=r"chexpert.csv.gz, column 'Atelectasis', line 6: value is not"):
        mimic.read(tmp_path)


def test_missing_files_and_columns(tmp_path):
    with pytest.raises(SourceFormatError, match=r"metadata.csv.gz: MIMIC-CXR-JPG metadata file not found \(also"):
        mimic.read(tmp_path)
    make(tmp_path, labels=[LABELS[0].replace("Edema,", "")] + [r[:-1] for r in LABELS[1:]])
    with pytest.raises(SourceFormatError, match=r"chexpert.csv.gz, column 'Edema', line 1: missing required"):
        mimic.read(tmp_path)


def test_an_unreadable_study_date_or_time_is_missing_and_counted(tmp_path):
    meta = [META_HEADER, *META]
    meta[4] = meta[4].replace(",21500101,101010.1,", ",2150X101,abc,")  # d1
    make(tmp_path, meta=tuple(meta[1:]))
    table = mimic.read(tmp_path)
    m = table.manifest.set_index("image_id")
    assert pd.isna(m.loc["d1", "study_date"]) and pd.isna(m.loc["d1", "study_time"])
    assert m.loc["d2", "study_date"] == "21500101" and m.loc["d2", "study_time"] == "101010.1"
    keys = [k for k in table.counts if k.startswith("unreadable/")]
    assert any(":StudyDate (expected YYYYMMDD; e.g. line 5: '2150X101'" in k for k in keys), keys
    assert any(":StudyTime (expected HHMMSS(.fff); e.g. line 5: 'abc'" in k for k in keys), keys


def test_study_times_before_ten_oclock_lack_their_leading_zero_and_are_read(tmp_path):
    """The release stores StudyTime as a number: 03:34:23.146 is written 33423.146 (and 00:05:00 as 500)."""
    meta = [META_HEADER, *META]
    meta[4] = meta[4].replace(",101010.1,", ",33423.146,")  # d1
    meta[5] = meta[5].replace(",101010.1,", ",500,") if ",101010.1," in meta[5] else meta[5]
    make(tmp_path, meta=tuple(meta[1:]))
    table = mimic.read(tmp_path)
    m = table.manifest.set_index("image_id")
    assert m.loc["d1", "study_time"] == "33423.146"
    assert not [k for k in table.counts if k.startswith("unreadable/") and "StudyTime" in k]
