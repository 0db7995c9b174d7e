from __future__ import annotations

import pandas as pd
import pytest
from sourcefiles import core, lines, write

from cxrinit.sources import SourceFormatError, nih

# The real 2017 file: bracketed headers split by their comma, and a trailing comma on every line.
HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
          "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],")
ROWS = (
    "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,",
    "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2894,2729,0.143,0.143,",
    "00000002_000.png,No Finding,0,2,81,M,AP,2500,2048,0.171,0.171,",
    "00001336_000.png,Effusion| Infiltration||,0,1336,037Y,F,PA,2048,2500,0.168,0.168,",
    "00030805_000.png,,0,30805,26,F,PA,2048,2500,0.168,0.168,",
    "00000003_000.png,Hernia,0,3,74,F,LL,2048,2500,0.168,0.168,",
)


def make(root, *, images: bool, header: str = HEADER, rows=ROWS, name="Data_Entry_2017_v2020.csv"):
    write(root / name, lines(header, *rows))
    write(root / "train_val_list.txt", lines("00000001_000.png", "00000001_001.png", "00001336_000.png"))
    write(root / "test_list.txt", lines("00000002_000.png", "00000003_000.png"))
    if images:  # empty placeholder files: the reader lists names, it never opens them
        write(root / "images_001/images/00000001_000.png", "")
        write(root / "images_002/images/00000002_000.png", "")  # not where the release has it: listing wins


EXPECTED = [
    dict(source="nih", image_id="00000001_000", path="images_001/images/00000001_000.png", patient_id="1",
         study_id="00000001_000", view="PA", view_native="PA", sex="M", age=58.0, official_split="train",
         terms="Cardiomegaly", terms_raw="Cardiomegaly", label_quality=None),
    dict(source="nih", image_id="00000001_001", path="images_001/images/00000001_001.png", patient_id="1",
         study_id="00000001_001", view="PA", view_native="PA", sex="M", age=58.0, official_split="train",
         terms="Cardiomegaly|Emphysema", terms_raw="Cardiomegaly|Emphysema", label_quality=None),
    dict(source="nih", image_id="00000002_000", path="images_002/images/00000002_000.png", patient_id="2",
         study_id="00000002_000", view="AP", view_native="AP", sex="M", age=81.0, official_split="test",
         terms="No Finding", terms_raw="No Finding", label_quality=None),
    dict(source="nih", image_id="00001336_000", path="images_002/images/00001336_000.png", patient_id="1336",
         study_id="00001336_000", view="PA", view_native="PA", sex="F", age=37.0, official_split="train",
         terms="Effusion|Infiltration", terms_raw="Effusion| Infiltration||",
         label_quality="stray_spaces;empty_terms"),
    dict(source="nih", image_id="00030805_000", path="images_012/images/00030805_000.png", patient_id="30805",
         study_id="00030805_000", view="PA", view_native="PA", sex="F", age=26.0, official_split=None,
         terms=None, terms_raw="", label_quality="missing"),
]


def test_manifest_with_listed_images(tmp_path):
    make(tmp_path, images=True)
    table = nih.read(tmp_path)
    m = table.manifest
    assert core(m, "terms", "terms_raw", "label_quality") == EXPECTED
    assert m["follow_up"].tolist() == [0, 1, 0, 0, 0]
    assert m["original_width"].tolist() == [2682, 2894, 2500, 2048, 2048]
    assert m["pixel_spacing_y"].tolist()[0] == pytest.approx(0.143)
    assert not any(c.startswith("Unnamed") for c in m.columns)
    assert table.rejected[["image_id", "path", "reason"]].values.tolist() == [
        ["00000003_000", "images_001/images/00000003_000.png", "unknown_view"]]
    assert "view 'LL' is not in the view map" in table.rejected["detail"][0]
    assert table.rejected["detail"][0].startswith("Data_Entry_2017_v2020.csv line 7:")
    c = table.counts
    assert c["read/Data_Entry_2017_v2020.csv"] == 6 and c["read/test_list.txt"] == 2
    assert c["note/path_not_listed"] == 4 and c["note/not_in_split_lists"] == 1
    assert c["note/label_quality/missing"] == 1 and c["note/label_quality/empty_terms"] == 1
    assert c["rejected/unknown_view"] == 1 and c["manifest_rows"] == 5


def test_without_images_paths_follow_the_release_folders(tmp_path):
    make(tmp_path, images=False)
    m = nih.read(tmp_path).manifest
    assert m["path"].tolist() == ["images_001/images/00000001_000.png", "images_001/images/00000001_001.png",
                                  "images_001/images/00000002_000.png", "images_002/images/00001336_000.png",
                                  "images_012/images/00030805_000.png"]


@pytest.mark.parametrize(("present", "expected"), [
    ("images/00000001_000.png", "images/00030805_000.png"),  # the Box tarballs: one flat images/ folder
    ("images_004/00000001_000.png", "images_012/00030805_000.png"),  # images_0NN/ without images/ inside
    ("images_004/images/00000001_000.png", "images_012/images/00030805_000.png"),  # the Kaggle mirror
])
def test_an_image_not_downloaded_yet_is_expected_in_the_layout_the_root_uses(tmp_path, present, expected):
    make(tmp_path, images=False)
    (tmp_path / present).parent.mkdir(parents=True)
    (tmp_path / present).write_bytes(b"png")
    m = nih.read(tmp_path).manifest.set_index("image_id")
    assert m.loc["00000001_000", "path"] == present and m.loc["00030805_000", "path"] == expected


def test_release_folder_boundaries():
    names = pd.Series(["00001335_006.png", "00001336_000.png", "00003923_013.png", "00003923_014.png",
                       "00028173_002.png", "00028173_003.png", "00030805_000.png"])
    assert nih.release_folder(names).tolist() == [f"images_{n:03d}/images" for n in (1, 2, 2, 3, 11, 12, 12)]


@pytest.mark.parametrize("rows_end_with_comma", [False, True])
def test_older_file_name_and_no_trailing_comma_in_header(tmp_path, rows_end_with_comma):
    rows = ROWS if rows_end_with_comma else [r.rstrip(",") for r in ROWS]
    make(tmp_path, images=False, header=HEADER.rstrip(","), rows=rows, name="Data_Entry_2017.csv")
    m = nih.read(tmp_path).manifest
    assert m["image_id"].tolist() == ["00000001_000", "00000001_001", "00000002_000", "00001336_000",
                                      "00030805_000"]


def test_view_map_override(tmp_path):
    make(tmp_path, images=False)
    table = nih.read(tmp_path, view_map={"PA": "PA", "AP": "AP", "LL": "LATERAL"})
    assert table.manifest["view"].tolist()[-1] == "LATERAL" and len(table.rejected) == 0


def test_an_unreadable_age_is_missing_and_counted_with_its_line(tmp_path):
    rows = list(ROWS)
    rows[2] = rows[2].replace(",81,", ",abc,")
    make(tmp_path, images=False, rows=rows)
    table = nih.read(tmp_path)  # nothing later needs the age: the image stays
    assert table.manifest["age"].isna().tolist()[2] and table.manifest["age"].isna().sum() == 1
    (key,) = [k for k in table.counts if k.startswith("unreadable/")]
    assert key.startswith("unreadable/Data_Entry_2017_v2020.csv:Patient Age") and "line 4: 'abc'" in key


def test_missing_lists_say_where_they_come_from_and_a_split_can_be_carved(tmp_path):
    make(tmp_path, images=False)
    (tmp_path / "test_list.txt").unlink()
    with pytest.raises(SourceFormatError, match="test_list.txt: NIH split list test_list.txt not found") as err:
        nih.read(tmp_path)
    assert "nihcc.app.box.com" in str(err.value) and "split_lists: false" in str(err.value)
    table = nih.read(tmp_path, split_lists=False)  # the reader option: harmonization carves a patient-wise split
    assert table.manifest["official_split"].isna().all()
    assert table.counts["note/no_split_lists_split_carved_patient_wise"] == len(table.manifest) + 1  # + the LL row


def test_a_gzipped_data_entry_file_is_found_by_name(tmp_path):
    make(tmp_path, images=False, name="Data_Entry_2017_v2020.csv.gz")
    table = nih.read(tmp_path)
    assert table.counts["read/Data_Entry_2017_v2020.csv.gz"] == len(ROWS)
    plain = nih.read(_plain(tmp_path))
    pd.testing.assert_frame_equal(table.manifest, plain.manifest)


def _plain(root):
    other = root / "plain"
    make(other, images=False)
    return other


def test_missing_columns(tmp_path):
    make(tmp_path, images=False, header=HEADER.replace("Patient Gender", "Gender"))
    with pytest.raises(SourceFormatError, match="column 'Patient Gender', line 1: missing required column"):
        nih.read(tmp_path)


def test_name_in_both_lists_is_an_error(tmp_path):
    make(tmp_path, images=False)
    write(tmp_path / "test_list.txt", lines("00000002_000.png", "00000001_000.png"))
    with pytest.raises(SourceFormatError, match=r"test_list.txt, line 2: 1 file\(s\) are also in train_val_list"):
        nih.read(tmp_path)
