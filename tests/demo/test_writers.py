"""The six demo writers against each dataset's native format rules (offline, tiny cohorts)."""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLosslessSV1

from cxrinit.demo.cohort import sample_cohort
from cxrinit.demo.writers import BROKEN_KINDS, PLAN_COLUMNS, WRITERS, mimic, nih, padchest, uka, vindr
from cxrinit.demo.writers import jpeg_lossless

SEED = 20240214
SCALE = 0.4
COHORTS = {
    "vindr": dict(n_patients=24, studies_per_patient=(1, 1), images_per_study=(1, 1)),
    "nih": dict(n_patients=10, studies_per_patient=(1, 3), images_per_study=(1, 1)),
    "chexpert": dict(n_patients=10, studies_per_patient=(1, 2), images_per_study=(1, 2), lateral_fraction=0.5),
    "mimic": dict(n_patients=12, studies_per_patient=(1, 2), images_per_study=(1, 2), lateral_fraction=0.5),
    "uka": dict(n_patients=12, studies_per_patient=(1, 2), images_per_study=(1, 1), ap_fraction=1.0,
                lateral_fraction=0.0),
    "padchest": dict(n_patients=12, studies_per_patient=(1, 2), images_per_study=(1, 2), lateral_fraction=0.5,
                     prevalence={"hernia": 0.4}),
}
METADATA = {
    "vindr": {"annotations/image_labels_train.csv", "annotations/image_labels_test.csv"},
    "nih": {"Data_Entry_2017_v2020.csv", "train_val_list.txt", "test_list.txt"},
    "chexpert": {"CheXpert-v1.0/train.csv", "CheXpert-v1.0/valid.csv"},
    "mimic": {"mimic-cxr-2.0.0-metadata.csv.gz", "mimic-cxr-2.0.0-chexpert.csv.gz", "mimic-cxr-2.0.0-split.csv.gz"},
    "uka": {"labels.csv"},
    "padchest": {padchest.CSV_NAME},
}
PATH_RE = {
    "vindr": r"(train|test)/[0-9a-f]{32}\.dicom",
    "nih": r"images_0(0[1-9]|1[0-2])/images/\d{8}_\d{3}\.png",
    "chexpert": r"CheXpert-v1\.0/(train|valid)/patient\d{5}/study\d+/view\d+_(frontal|lateral)\.jpg",
    "mimic": r"files/p1\d/p1\d{7}/s5\d{7}/[0-9a-f]{8}(-[0-9a-f]{8}){4}\.jpg",
    "uka": r"images/\d+\.dcm",
    "padchest": r"([0-9]|[1-4][0-9]|5[0-4])/\d{37,45}_([0-9]{2}-[0-9]{3}-[0-9]{3}|[0-9a-z]{6})\.png",
}


def fake_render(spec, shape: tuple[int, int]) -> np.ndarray:
    """Stand-in for the phantom: a seeded gradient with a bright disc; cheap and spec-dependent.

    Module-level so worker processes can unpickle it by name.
    """
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    g = np.random.default_rng(spec.image_seed)
    cx, cy, r = g.uniform(0.3, 0.7), g.uniform(0.3, 0.7), g.uniform(0.1, 0.2)
    img = 0.15 + 0.4 * x + 0.2 * y + 0.35 * (((x - cx) ** 2 + (y - cy) ** 2) < r * r)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="session")
def render():
    return fake_render


def _specs(name: str):
    return sample_cohort(seed=SEED + len(name), **COHORTS[name])


def _tree(name: str, root: Path, render, workers: int) -> pd.DataFrame:
    specs = _specs(name)
    plan = WRITERS[name].plan(specs, SEED, scale=SCALE)
    root.mkdir(parents=True)
    WRITERS[name].write(plan, specs, root, render, workers=workers)
    return plan


@pytest.fixture(scope="session")
def trees(tmp_path_factory, render):
    """name -> (plan, root), written with one worker."""
    base = tmp_path_factory.mktemp("writers")
    return {name: (_tree(name, base / name, render, 1), base / name) for name in WRITERS}


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _read(root: Path, rel: str) -> bytes:
    return (root / rel).read_bytes()


def _decode(data: bytes, path: str) -> np.ndarray:
    """Pixels of one image file, raising on anything unreadable."""
    if path.endswith((".dicom", ".dcm")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data)).pixel_array
    im = Image.open(io.BytesIO(data))
    im.load()
    return np.asarray(im)


def _readable(plan: pd.DataFrame) -> pd.DataFrame:
    return plan.loc[plan["broken"] == ""]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


# ---------------------------------------------------------------- plan contract, all datasets

def test_registry_has_the_six_writers():
    assert list(WRITERS) == ["vindr", "nih", "chexpert", "mimic", "uka", "padchest"]
    for mod in WRITERS.values():
        assert callable(mod.plan) and callable(mod.write)


@pytest.mark.parametrize("name", list(WRITERS))
def test_plan_contract(name):
    specs = _specs(name)
    plan = WRITERS[name].plan(specs, SEED, scale=SCALE)
    assert list(plan.columns[: len(PLAN_COLUMNS)]) == list(PLAN_COLUMNS)
    assert plan["spec_index"].between(0, len(specs) - 1).all()
    assert plan["path"].is_unique and plan["native_id"].is_unique
    assert all(re.fullmatch(PATH_RE[name], p) for p in plan["path"]), plan["path"].tolist()
    assert set(plan["view"]) <= {"PA", "AP", "LATERAL"}
    for row in plan.itertuples():
        spec = specs[row.spec_index]
        assert row.view == spec.view and row.findings == "|".join(f.name for f in spec.findings)
    assert (plan["broken"] != "").sum() == 4
    assert set(plan["broken"]) - {""} <= set(BROKEN_KINDS)
    assert (plan["broken_detail"] != "").equals(plan["broken"] != "")
    pd.testing.assert_frame_equal(plan, WRITERS[name].plan(specs, SEED, scale=SCALE))
    other = WRITERS[name].plan(specs, SEED + 1, scale=SCALE)
    assert not other.equals(plan) and set(other["pixel_seed"]).isdisjoint(plan["pixel_seed"])


def test_broken_kinds_cover_all_five_across_datasets():
    seen = set()
    for name, mod in WRITERS.items():
        seen |= set(mod.plan(_specs(name), SEED)["broken"]) - {""}
    assert seen == set(BROKEN_KINDS)


@pytest.mark.parametrize("name", list(WRITERS))
def test_n_broken_zero_and_too_many(name):
    specs = _specs(name)
    assert (WRITERS[name].plan(specs, SEED, n_broken=0)["broken"] == "").all()
    with pytest.raises(ValueError, match="n_broken"):
        WRITERS[name].plan(specs, SEED, n_broken=len(specs))


@pytest.mark.parametrize("name", ["vindr", "nih", "uka"])
def test_frontal_only_datasets_skip_and_count_laterals(name):
    specs = sample_cohort(10, SEED, images_per_study=(2, 2), lateral_fraction=0.6)
    n_lat = sum(s.view == "LATERAL" for s in specs)
    assert n_lat > 0
    plan = WRITERS[name].plan(specs, SEED, n_broken=2)
    assert "LATERAL" not in set(plan["view"])
    assert len(plan) == len(specs) - n_lat and plan.attrs["skipped_views"] == n_lat


def test_write_refuses_a_non_empty_root_and_foreign_specs(tmp_path, render):
    specs = _specs("nih")
    plan = nih.plan(specs, SEED, scale=SCALE)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "old.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        nih.write(plan, specs, tmp_path / "x", render)
    (tmp_path / "y").mkdir()
    with pytest.raises(ValueError, match="spec_index"):
        nih.write(plan, specs[:3], tmp_path / "y", render)


# ---------------------------------------------------------------- files vs plan, broken files

@pytest.mark.parametrize("name", list(WRITERS))
def test_tree_holds_exactly_the_planned_files(trees, name):
    plan, root = trees[name]
    files = set(_hashes(root))
    present = set(plan.loc[plan["broken"] != "missing", "path"])
    assert files == present | METADATA[name]


@pytest.mark.parametrize("name", list(WRITERS))
def test_broken_files_are_broken_as_planned(trees, name):
    plan, root = trees[name]
    magic = {".dicom": (128, b"DICM"), ".dcm": (128, b"DICM"), ".png": (0, b"\x89PNG"), ".jpg": (0, b"\xff\xd8\xff")}
    for row in plan.itertuples():
        path = root / row.path
        kind = row.broken
        if kind == "missing":
            assert not path.exists()
            continue
        data = path.read_bytes()
        off, sig = magic[path.suffix]
        if kind == "zero_bytes":
            assert data == b""
        elif kind == "wrong_format":
            assert data and data[off:off + len(sig)] != sig, row.path
        elif kind == "no_pixel_data":
            ds = pydicom.dcmread(io.BytesIO(data))
            assert "PixelData" not in ds and ds.Rows == row.height
        elif kind == "truncated":
            assert data[off:off + len(sig)] == sig
            with pytest.raises(Exception):
                _decode(data, row.path)
        else:
            assert data[off:off + len(sig)] == sig, row.path
            px = _decode(data, row.path)
            assert px.shape[:2] == (row.height, row.width), row.path


# ---------------------------------------------------------------- determinism

@pytest.mark.parametrize("name", list(WRITERS))
def test_same_seed_gives_byte_identical_trees_whatever_the_workers(trees, tmp_path, render, name):
    _, root1 = trees[name]
    _tree(name, tmp_path / name, render, workers=2)
    assert _hashes(tmp_path / name) == _hashes(root1)


# ---------------------------------------------------------------- VinDr

def test_vindr_annotations(trees):
    plan, root = trees["vindr"]
    train = pd.read_csv(root / "annotations/image_labels_train.csv")
    test = pd.read_csv(root / "annotations/image_labels_test.csv")
    assert list(train.columns) == ["image_id", "rad_id", *vindr.LABELS]
    assert list(test.columns) == ["image_id", *vindr.LABELS]
    assert len(vindr.LABELS) == 28
    train_ids = set(plan.loc[plan["split"] == "train", "native_id"])
    assert set(train["image_id"]) == train_ids and (train.groupby("image_id").size() == 3).all()
    assert set(test["image_id"]) == set(plan.loc[plan["split"] == "test", "native_id"]) and test["image_id"].is_unique
    assert train["rad_id"].str.fullmatch(r"R([1-9]|1[0-7])").all()
    assert not train.duplicated(["image_id", "rad_id"]).any()
    for table in (train, test):
        labels = table[list(vindr.LABELS)]
        assert set(np.unique(labels.to_numpy())) <= {0, 1}
        others = labels.drop(columns="No finding").sum(axis=1)
        assert ((others == 0) == (labels["No finding"] == 1)).all()
    votes = train.groupby("image_id")[list(vindr.LABELS)].nunique()
    assert (votes > 1).any(axis=None), "readers never disagree"
    # patient-wise split
    assert not set(plan.loc[plan.split == "train", "patient_id"]) & set(plan.loc[plan.split == "test", "patient_id"])


@pytest.mark.parametrize("name", ["vindr", "uka"])
def test_dicom_headers_and_pixels(trees, render, name):
    plan, root = trees[name]
    syntaxes, photos, bits_seen, voi_kinds, rescaled = set(), set(), set(), set(), set()
    specs = _specs(name)
    for row in _readable(plan).itertuples():
        ds = pydicom.dcmread(root / row.path)
        ts = ds.file_meta.TransferSyntaxUID
        syntaxes.add(ts)
        photos.add(ds.PhotometricInterpretation)
        bits_seen.add(ds.BitsStored)
        assert ds.BitsAllocated == 16 and ds.HighBit == ds.BitsStored - 1 and ds.PixelRepresentation == 0
        assert (ds.Rows, ds.Columns) == (row.height, row.width)
        assert ds.SOPInstanceUID == row.sop_instance_uid and ds.StudyInstanceUID == row.study_instance_uid
        assert ds.PatientID == row.dicom_patient_id and ds.PatientSex in ("M", "F")
        assert re.fullmatch(r"(\d{3}Y)?", ds.PatientAge)
        assert ds.ViewPosition == row.view and len(ds.PixelSpacing) == 2
        arr = ds.pixel_array  # JPEG 2000 / JPEG Lossless go through pylibjpeg
        assert arr.dtype == np.uint16 and int(arr.max()) < 2**ds.BitsStored
        ideal = render(specs[row.spec_index], (row.height, row.width))
        sign = -1 if ds.PhotometricInterpretation == "MONOCHROME1" else 1
        assert sign * _corr(arr, ideal) > 0.9, row.path
        if "VOILUTSequence" in ds:
            voi_kinds.add("lut")
        elif "WindowCenter" in ds:
            voi_kinds.add("window")
        else:
            voi_kinds.add("")
        rescaled.add("RescaleSlope" in ds)
        if "VOILUTSequence" in ds or "WindowCenter" in ds:
            shown = apply_voi_lut(apply_modality_lut(arr, ds), ds)
            lo, hi = shown.min(), shown.max()
            assert np.mean((shown <= lo) | (shown >= hi)) < 0.5, "window saturates the film"
            assert sign * _corr(shown, ideal) > 0.8
    assert photos == {"MONOCHROME1", "MONOCHROME2"}
    assert ExplicitVRLittleEndian in syntaxes and JPEG2000Lossless in syntaxes
    if name == "vindr":
        assert JPEGLosslessSV1 in syntaxes
        assert bits_seen == {12, 14, 16} and voi_kinds == {"", "window", "lut"} and rescaled == {True, False}


def test_jpeg_lossless_round_trip_at_every_depth():
    import libjpeg

    gen = np.random.default_rng(0)
    for bits in (8, 12, 14, 16):
        img = gen.integers(0, 2**bits, (37, 53)).astype(np.uint16)
        img[0, :4] = [0, 2**bits - 1, 0, 2**bits - 1]  # extreme differences
        assert np.array_equal(libjpeg.decode(jpeg_lossless.encode(img, bits)), img)
    with pytest.raises(ValueError, match="does not fit"):
        jpeg_lossless.encode(np.full((2, 2), 4096, np.uint16), 12)


# ---------------------------------------------------------------- NIH

def test_nih_metadata_and_pngs(trees, render):
    plan, root = trees["nih"]
    header = (root / "Data_Entry_2017_v2020.csv").read_text().splitlines()[0]
    assert header == ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
                      "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")
    table = pd.read_csv(root / "Data_Entry_2017_v2020.csv")
    assert list(table.columns) == list(nih.COLUMNS) and len(table.columns) == 11
    assert set(table["Image Index"]) == set(plan["native_id"])
    for labels in table["Finding Labels"]:
        assert labels == "No Finding" or set(labels.split("|")) <= set(nih.LABELS)
    assert set(table["View Position"]) <= {"PA", "AP"}
    assert (table["Image Index"].str[:8].astype(int) == table["Patient ID"]).all()
    folders = {p.split("/")[0] for p in plan["path"]}
    assert len(folders) >= 2
    train = (root / "train_val_list.txt").read_text().split()
    test = (root / "test_list.txt").read_text().split()
    assert sorted(train + test) == sorted(table["Image Index"]) and train and test
    assert not {n[:8] for n in train} & {n[:8] for n in test}
    modes = set()
    specs = _specs("nih")
    for row in _readable(plan).itertuples():
        data = _read(root, row.path)
        assert data[24] == 8  # IHDR bit depth
        im = Image.open(io.BytesIO(data))
        modes.add(im.mode)
        gray = np.asarray(im.convert("L"))
        assert _corr(gray, render(specs[row.spec_index], (row.height, row.width))) > 0.9
    assert modes == {"L", "RGBA"}


# ---------------------------------------------------------------- CheXpert

def test_chexpert_csvs(trees):
    plan, root = trees["chexpert"]
    expected = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Enlarged Cardiomediastinum",
                "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation", "Pneumonia", "Atelectasis",
                "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices"]
    train = pd.read_csv(root / "CheXpert-v1.0/train.csv")
    valid = pd.read_csv(root / "CheXpert-v1.0/valid.csv")
    assert list(train.columns) == expected and list(valid.columns) == expected
    assert set(train["Path"]) | set(valid["Path"]) == set(plan["path"])
    assert train["Path"].str.startswith("CheXpert-v1.0/train/").all()
    assert valid["Path"].str.startswith("CheXpert-v1.0/valid/").all()
    labels = train[expected[5:]].to_numpy()
    assert set(np.unique(labels[~np.isnan(labels)])) == {-1.0, 0.0, 1.0} and np.isnan(labels).any()
    assert set(np.unique(valid[expected[5:]].to_numpy())) <= {0.0, 1.0}
    for table in (train, valid):
        lateral = table["Frontal/Lateral"] == "Lateral"
        assert (table["Path"].str.endswith("_lateral.jpg") == lateral).all()
        assert table.loc[lateral, "AP/PA"].isna().all()
        assert set(table.loc[~lateral, "AP/PA"]) <= {"AP", "PA"}
        assert set(table["Sex"]) <= {"Male", "Female"}
    assert (train["Frontal/Lateral"] == "Lateral").any()
    # patients are disjoint and the CSV raw text keeps the release's float spelling
    assert not {p.split("/")[2] for p in train["Path"]} & {p.split("/")[2] for p in valid["Path"]}
    assert ",-1.0," in (root / "CheXpert-v1.0/train.csv").read_text()
    for row in _readable(plan).itertuples():
        assert Image.open(root / row.path).mode == "L"


# ---------------------------------------------------------------- MIMIC

def test_mimic_gzipped_tables_join(trees):
    plan, root = trees["mimic"]
    for name in METADATA["mimic"]:
        raw = _read(root, name)
        assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip, zero mtime
        gzip.decompress(raw)
    meta = pd.read_csv(root / "mimic-cxr-2.0.0-metadata.csv.gz")
    lab = pd.read_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz")
    split = pd.read_csv(root / "mimic-cxr-2.0.0-split.csv.gz")
    assert list(meta.columns) == list(mimic.METADATA_COLUMNS)
    assert list(lab.columns) == ["subject_id", "study_id", "Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
                                 "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion", "Lung Opacity",
                                 "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax",
                                 "Support Devices"]
    assert list(split.columns) == ["dicom_id", "study_id", "subject_id", "split"]
    joined = meta.merge(split, on=["dicom_id", "study_id", "subject_id"], validate="one_to_one") \
                 .merge(lab, on=["subject_id", "study_id"], validate="many_to_one")
    assert len(joined) == len(meta) == len(plan) and lab["study_id"].is_unique
    assert set(split["split"]) == {"train", "validate", "test"}
    assert (split.groupby("subject_id")["split"].nunique() == 1).all()
    values = lab.iloc[:, 2:].to_numpy()
    assert set(np.unique(values[~np.isnan(values)])) <= {-1.0, 0.0, 1.0}
    vp = meta["ViewPosition"].fillna("")
    assert set(vp) <= {"PA", "AP", "LATERAL", "LL", "", *mimic.UNUSUAL_VIEWS}
    assert "" in set(vp) and set(vp) & set(mimic.UNUSUAL_VIEWS) and set(vp) & {"LATERAL", "LL"}
    paths = {f"files/p{str(r.subject_id)[:2]}/p{r.subject_id}/s{r.study_id}/{r.dicom_id}.jpg"
             for r in meta.itertuples()}
    assert paths == set(plan["path"])
    by_path = meta.set_index("dicom_id")
    for row in _readable(plan).itertuples():
        im = Image.open(root / row.path)
        assert im.mode == "L" and (by_path.at[row.native_id, "Rows"], by_path.at[row.native_id, "Columns"]) == \
            (im.height, im.width)


# ---------------------------------------------------------------- UKA

def test_uka_labels(trees):
    plan, root = trees["uka"]
    table = pd.read_csv(root / "labels.csv")
    assert list(table.columns) == ["image_id", "split", "subset", "cardiomegaly", "congestion",
                                   "pleural_effusion_right", "pleural_effusion_left", "pneumonic_infiltrates_right",
                                   "pneumonic_infiltrates_left", "atelectasis_right", "atelectasis_left", "healthy",
                                   "patient_id", "age", "sex"]
    assert set(table["image_id"].astype(str)) == set(plan["native_id"])
    grades = table[list(uka.GRADED)]
    assert grades.dtypes.map(pd.api.types.is_integer_dtype).all()
    assert grades.isin(range(6)).all(axis=None) and (grades >= 3).any(axis=None) and (grades == 5).any(axis=None)
    assert (table["healthy"] == (grades < 3).all(axis=1).astype(int)).all()
    assert set(table["split"]) == {"train", "test"} and set(table["sex"]) <= {"M", "F"}
    assert (table["subset"] == "test").equals(table["split"] == "test")
    assert table.loc[table.split == "train", "subset"].str.fullmatch(r"p\d+").all()
    assert (table.groupby("patient_id")["split"].nunique() == 1).all()


# ---------------------------------------------------------------- PadChest

def test_padchest_csv_and_pngs(trees, render):
    plan, root = trees["padchest"]
    header = (root / padchest.CSV_NAME).read_text().splitlines()[0].split(",")
    assert header == ["", *padchest.COLUMNS] and len(header) == 36
    table = pd.read_csv(root / padchest.CSV_NAME, index_col=0, dtype={c: str for c in ("StudyID", "PatientID")})
    assert list(table.columns) == list(padchest.COLUMNS)
    assert (table["ImageDir"].astype(str) + "/" + table["ImageID"]).tolist() == plan["path"].tolist()
    assert all(i.startswith(s + "_") for i, s in zip(table["ImageID"], table["StudyID"]))
    assert set(table["Projection"]) == set(padchest.PROJECTIONS)
    assert set(table["MethodLabel"]) <= {"Physician", "RNN_model"}
    cells = table["Labels"]
    assert cells.isna().any()
    parsed = [ast.literal_eval(c) for c in cells.dropna()]
    terms = [t for lst in parsed for t in lst]
    assert all(isinstance(lst, list) for lst in parsed)
    assert "" in terms and any(t != t.strip() for t in terms if t)
    clean = {t.strip() for t in terms}
    assert {"subcutaneous emphysema", "soft tissue mass", "hiatal hernia", "normal"} <= clean
    trap = table.loc[cells.fillna("").str.contains("subcutaneous emphysema")]
    key = plan.set_index("native_id")
    assert any("emphysema" not in key.at[i, "findings"] for i in trap["ImageID"]), "trap term never misleads"
    specs = _specs("padchest")
    for row in _readable(plan).itertuples():
        data = _read(root, row.path)
        assert data[24] == 16 and data[25] == 0  # IHDR: 16-bit grayscale
        px = np.asarray(Image.open(io.BytesIO(data)))
        meta = key.loc[row.native_id]
        assert int(px.max()) < 2 ** int(meta["BitsStored_DICOM"])
        assert (meta["Rows_DICOM"], meta["Columns_DICOM"]) == px.shape
        sign = -1 if meta["PhotometricInterpretation_DICOM"] == "MONOCHROME1" else 1
        assert sign * _corr(px, render(specs[row.spec_index], px.shape)) > 0.9
    assert set(table["PhotometricInterpretation_DICOM"]) == {"MONOCHROME1", "MONOCHROME2"}
