from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from sourcefiles import core, write

from cxrinit.sources import SourceFormatError, padchest

COLUMNS = (
    "ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,ViewPosition_DICOM,Projection,"
    "MethodProjection,Pediatric,Modality_DICOM,Manufacturer_DICOM,PhotometricInterpretation_DICOM,"
    "PixelRepresentation_DICOM,PixelAspectRatio_DICOM,SpatialResolution_DICOM,BitsStored_DICOM,WindowCenter_DICOM,"
    "WindowWidth_DICOM,Rows_DICOM,Columns_DICOM,XRayTubeCurrent_DICOM,Exposure_DICOM,ExposureInuAs_DICOM,"
    "ExposureTime,RelativeXRayExposure_DICOM,ReportID,Report,MethodLabel,Labels,Localizations,"
    "LabelsLocalizationsBySentence,labelCUIS,LocalizationsCUIS"
).split(",")
ID1 = "216840111366964012283393834152009033102258826_02-059-019.png"


def row(image_id, folder, date, study, patient, birth, sex, projection, labels, *, report="sin hallazgos",
        method="Physician", pediatric="No"):
    values = dict.fromkeys(COLUMNS, "")
    values.update(ImageID=image_id, ImageDir=folder, StudyDate_DICOM=date, StudyID=study, PatientID=patient,
                  PatientBirth=birth, PatientSex_DICOM=sex, ViewPosition_DICOM="POSTEROANTERIOR",
                  Projection=projection, MethodProjection="Manual review of DICOM fields", Pediatric=pediatric,
                  Modality_DICOM="CR", Report=report, MethodLabel=method, Labels=labels,
                  Localizations="['loc right']")
    assert set(values) == set(COLUMNS), "fixture names a column the real file does not have"
    return [values[c] for c in COLUMNS]


ROWS = [
    row(ID1, "0", "20090310", "S1", "P1", "1939.0", "M", "PA", "['pleural effusion', 'cardiomegaly']",
        report="cardiomegalia, derrame pleural"),
    row("img2.png", "12", "20090310", "S1", "P1", "1939.0", "M", "L", "[' pleural effusion', 'cardiomegaly ']"),
    row("img3.png", "54", "20150101", "S2", "P2", "", "F", "AP_horizontal", "['', 'nodule']",
        report="primera linea\nsegunda linea"),  # a report spanning two lines, as real quoted fields can
    row("img4.png", "3", "20150101", "S3", "P3", "1950", "O", "AP", "", method="RNN_model"),
    row("img5.png", "3", "20150101", "S4", "P3", "1950", "", "COSTAL", "['normal']"),
    row("img6.png", "7", "20120615", "S5", "P4", "2008", "F", "EXCLUDE",
        "['subcutaneous emphysema', 'soft tissue mass', 'hiatal hernia']", pediatric="PED"),
    row("img7.png", "7", "20120615", "S5", "P4", "2008", "F", "UNK", "[]"),
    row("img8.png", "7", "20120615", "S6", "P4", "2008", "F", "PA", "[pleural effusion, 'nodule'"),
    row("../../img9.png", "7", "20120615", "S6", "P4", "2008", "F", "PA", "['normal']"),
    row(ID1, "1", "20090310", "S1", "P1", "1939.0", "M", "PA", "['normal']"),
]


def csv_text(rows, columns=COLUMNS) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def make(root, rows=ROWS, name=padchest.LABELS_FILE, columns=COLUMNS):
    write(root / name, csv_text(rows, columns))


def test_manifest_terms_and_quirks(tmp_path):
    make(tmp_path)
    table = padchest.read(tmp_path)
    m = table.manifest

    def e(image_id, path, patient, study, view, native, sex, age, terms, quality):
        return dict(source="padchest", image_id=image_id, path=path, patient_id=patient, study_id=study, view=view,
                    view_native=native, sex=sex, age=age, official_split=None, terms=terms, label_quality=quality)

    assert core(m, "terms", "label_quality") == [
        e(ID1[:-4], f"0/{ID1}", "P1", "S1", "PA", "PA", "M", 70.0, "pleural effusion|cardiomegaly", None),
        e("img2", "12/img2.png", "P1", "S1", "LATERAL", "L", "M", 70.0, "pleural effusion|cardiomegaly",
          "stray_spaces"),
        e("img3", "54/img3.png", "P2", "S2", "AP", "AP_horizontal", "F", None, "nodule", "empty_terms"),
        e("img4", "3/img4.png", "P3", "S3", "AP", "AP", None, 65.0, None, "missing"),
        e("img5", "3/img5.png", "P3", "S4", "OTHER", "COSTAL", None, 65.0, "normal", None),
        e("img6", "7/img6.png", "P4", "S5", "OTHER", "EXCLUDE", "F", 4.0,
          "subcutaneous emphysema|soft tissue mass|hiatal hernia", None),
        e("img7", "7/img7.png", "P4", "S5", "OTHER", "UNK", "F", 4.0, "", "empty_list"),
        e("img8", "7/img8.png", "P4", "S6", "PA", "PA", "F", 4.0, "pleural effusion|nodule", "unparsed_list"),
    ]
    assert m["terms_raw"].tolist()[1] == "[' pleural effusion', 'cardiomegaly ']"
    assert m["terms_raw"].tolist()[3] == ""
    assert m["method_label"].tolist()[3] == "RNN_model" and m["pediatric"].tolist()[5] == "PED"
    assert m["study_date"].tolist()[0] == "20090310"
    assert list(m.columns[10:13]) == ["terms", "terms_raw", "label_quality"]
    rej = table.rejected
    assert rej[["image_id", "path", "reason"]].values.tolist() == [
        ["../../img9", "7/../../img9.png", "path_escape"], [ID1[:-4], f"1/{ID1}", "duplicate_id"]]
    # record 9 starts on line 11: the two-line report in record 3 shifts it
    assert rej["detail"][0].startswith(f"{padchest.LABELS_FILE} line 11: ")
    assert rej["detail"][1].startswith(f"{padchest.LABELS_FILE} line 12: image_id '{ID1[:-4]}' already read "
                                       f"from {padchest.LABELS_FILE} line 2")
    c = table.counts
    assert c["note/label_quality/missing"] == 1 and c["note/label_quality/unparsed_list"] == 1
    assert c["note/label_quality/stray_spaces"] == 1 and c["note/label_quality/empty_list"] == 1
    assert c["rejected/path_escape"] == 1 and c["manifest_rows"] == 8


def test_gzipped_table_and_leading_index_column(tmp_path):
    rows = [["0", *r] for r in ROWS[:2]]
    make(tmp_path, rows=rows, name=padchest.LABELS_FILE + ".gz", columns=["", *COLUMNS])
    m = padchest.read(tmp_path).manifest
    assert m["path"].tolist() == [f"0/{ID1}", "12/img2.png"]


def test_line_numbers_count_multiline_fields(tmp_path):
    rows = list(ROWS)
    rows[3] = row("img4.png", "3", "2015-01-01", "S3", "P3", "1950", "O", "AP", "")
    make(tmp_path, rows=rows)
    table = padchest.read(tmp_path)  # a date nothing needs: read as missing, counted with its line
    (key,) = [k for k in table.counts if k.startswith("unreadable/")]
    assert key.startswith(f"unreadable/{padchest.LABELS_FILE}:StudyDate_DICOM (expected YYYYMMDD")
    assert "e.g. line 6: '2015-01-01'" in key
    study_date = table.manifest.set_index("image_id")["study_date"]
    assert pd.isna(study_date["img4"]) and study_date.notna().sum() == len(study_date) - 1  # missing, not kept as is
    rows[3] = row("img4.png", "x3", "20150101", "S3", "P3", "1950", "O", "AP", "")
    make(tmp_path, rows=rows)
    with pytest.raises(SourceFormatError) as err:
        padchest.read(tmp_path)
    assert str(err.value).startswith(f"{tmp_path}/{padchest.LABELS_FILE}, column 'ImageDir', line 6: ")


@pytest.mark.parametrize("index, field, value, column", [(0, 5, "abc", "PatientBirth"),
                                                         (1, 6, "X", "PatientSex_DICOM")])
def test_unexpected_values_in_columns_nothing_needs_are_missing_and_counted(tmp_path, index, field, value, column):
    rows = [list(r) for r in ROWS[:5]]
    rows[index][field] = value
    make(tmp_path, rows=rows)
    table = padchest.read(tmp_path)
    assert len(table.manifest) == 5
    (key,) = [k for k in table.counts if k.startswith("unreadable/")]
    assert key.startswith(f"unreadable/{padchest.LABELS_FILE}:{column}") and f"line {2 + index}: '{value}'" in key


def test_unparseable_required_values_name_file_column_line(tmp_path):
    rows = [list(r) for r in ROWS[:5]]
    rows[4][1] = "dir3"
    make(tmp_path, rows=rows)
    with pytest.raises(SourceFormatError, match=r"column 'ImageDir', line 7: .*'dir3'"):
        padchest.read(tmp_path)


def test_missing_table_and_column(tmp_path):
    with pytest.raises(SourceFormatError, match="PadChest label table not found"):
        padchest.read(tmp_path)
    make(tmp_path, columns=[("Labelz" if c == "Labels" else c) for c in COLUMNS])
    with pytest.raises(SourceFormatError, match=r"column 'Labels', line 1: missing required"):
        padchest.read(tmp_path)


def test_a_release_copy_that_writes_missing_values_as_nan(tmp_path):
    """Four 'nan' sexes in 160,861 rows once stopped the whole read; 'nan' is a missing value, everywhere."""
    rows = [row(ID1, "0", "20090310", "S1", "P1", "1939.0", "M", "PA", "['cardiomegaly']"),
            row("img2.png", "12", "nan", "S2", "P2", "nan", "nan", "PA", "nan")]
    make(tmp_path, rows=rows)
    table = padchest.read(tmp_path)
    m = table.manifest
    assert m["sex"].tolist()[0] == "M" and pd.isna(m["sex"].tolist()[1])
    assert pd.isna(m["age"].tolist()[1])                      # birth year and date missing: no age
    assert m["terms"].isna().tolist() == [False, True]         # a 'nan' label cell is no label, not a term
    assert m["label_quality"].tolist()[1] == "missing"
    assert not any(k.startswith("unreadable/") for k in table.counts)  # a marker is not an unexpected value
