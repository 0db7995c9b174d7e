"""Decoding: the real chest film in pydicom-data, transfer syntaxes, LUTs, PNG/JPEG, path safety."""

from __future__ import annotations

import io
import math
import struct
import os

import cv2
import numpy as np
import pydicom
import pytest
from imagingfiles import chest_like, dicom_bytes, dicom_dataset, jpeg_bytes, png_bytes, pydicom_file, write
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

from cxrinit.imaging.decode import decode_bytes, decode_file, read_source, resolve_in_root
from cxrinit.imaging.reasons import QUARANTINE_REASONS, QuarantineError, Status


def _norm(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return (a - a.min()) / (a.max() - a.min())


def _pydicom_chain(ds: pydicom.Dataset) -> np.ndarray:
    """What pydicom's own functions give: modality LUT, VOI (LUT preferred), MONOCHROME1 inverted."""
    a = apply_voi_lut(apply_modality_lut(pixel_array(ds, index=0), ds), ds, prefer_lut=True).astype(np.float64)
    return a.max() + a.min() - a if ds.PhotometricInterpretation == "MONOCHROME1" else a


def test_reason_codes_are_defined_once_and_distinct():
    assert len(set(QUARANTINE_REASONS)) == len(QUARANTINE_REASONS) >= 11
    assert Status.OK not in QUARANTINE_REASONS
    with pytest.raises(ValueError):
        QuarantineError(Status.OK, "ok is no reason")


def test_chest_film_uncompressed_and_lossless_j2k_decode_to_the_same_pixels():
    unc = decode_file(pydicom_file("RG1_UNCR.dcm"))
    j2k = decode_file(pydicom_file("RG1_J2KR.dcm"))
    assert unc.meta.format == "DICOM Explicit VR Little Endian"
    assert "JPEG 2000" in j2k.meta.format
    assert (unc.meta.height, unc.meta.width, unc.meta.bits) == (1955, 1841, 15)
    assert unc.pixels.dtype == np.uint16  # 16-bit precision kept, the LUTs ride along as an affine
    np.testing.assert_array_equal(unc.pixels, j2k.pixels)
    assert (unc.scale, unc.offset) == (j2k.scale, j2k.offset)
    lossy = decode_file(pydicom_file("RG1_J2KI.dcm"))
    assert np.corrcoef(lossy.values().ravel(), unc.values().ravel())[0, 1] > 0.99


def test_monochrome1_is_inverted_so_lungs_are_darker_than_the_mediastinum():
    path = pydicom_file("RG1_UNCR.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    img = decode_file(path).values()
    h, w = img.shape

    def box(r0, r1, c0, c1, a=img):
        return float(a[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)].mean())

    def mediastinum(a):
        return box(0.15, 0.55, 0.45, 0.55, a)

    def lungs(a):
        return min(box(0.2, 0.45, 0.15, 0.35, a), box(0.2, 0.45, 0.62, 0.82, a))

    assert lungs(img) < mediastinum(img) - 0.1 * float(np.ptp(img))
    raw = ds.pixel_array  # stored values are the other way round: the inversion is what fixes it
    assert lungs(raw) > mediastinum(raw)


@pytest.mark.parametrize(
    "name, syntax",
    [
        ("emri_small_big_endian.dcm", "Big Endian"),
        ("emri_small_RLE.dcm", "RLE"),
        ("emri_small_jpeg_ls_lossless.dcm", "JPEG-LS"),
        ("emri_small_jpeg_2k_lossless.dcm", "JPEG 2000"),
    ],
)
def test_transfer_syntaxes_decode_to_the_uncompressed_first_frame(name, syntax):
    ref = decode_file(pydicom_file("emri_small.dcm"), min_side=16)
    got = decode_file(pydicom_file(name), min_side=16)
    assert syntax in got.meta.format
    assert got.meta.note == "first of 10 frames"
    np.testing.assert_array_equal(got.values(), ref.values())
    np.testing.assert_array_equal(ref.pixels, pydicom.dcmread(pydicom_file("emri_small.dcm")).pixel_array[0])


@pytest.mark.parametrize("name", ["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "vlut_04.dcm", "mlut_18.dcm",
                                  "CT_small.dcm", "MR_small.dcm", "693_UNCR.dcm"])
def test_modality_and_voi_luts_match_pydicom(name):
    path = pydicom_file(name)
    got = decode_file(path, min_side=16).values()
    np.testing.assert_allclose(_norm(got), _norm(_pydicom_chain(pydicom.dcmread(path))), atol=1e-5)


def test_a_clipping_window_is_exact_and_voi_lut_sequence_wins_over_window():
    ds = pydicom.dcmread(pydicom_file("RG1_UNCR.dcm"))
    ds.WindowCenter, ds.WindowWidth = 12000, 6000  # much narrower than the data: clips both ends
    got = decode_bytes(dicom_bytes(ds), "clip.dcm")
    assert got.pixels.dtype == np.float32
    np.testing.assert_allclose(_norm(got.values()), _norm(_pydicom_chain(ds)), atol=1e-5)

    lut = pydicom.dcmread(pydicom_file("vlut_04.dcm"))
    lut.WindowCenter, lut.WindowWidth = 100, 20  # would look very different if it were used
    got = decode_bytes(dicom_bytes(lut), "both.dcm", min_side=16).values()
    np.testing.assert_allclose(_norm(got), _norm(apply_voi_lut(lut.pixel_array, lut, prefer_lut=True)), atol=1e-5)


def test_voi_can_be_switched_off_for_the_paper_preset():
    ds = pydicom.dcmread(pydicom_file("RG1_UNCR.dcm"))
    ds.WindowCenter, ds.WindowWidth = 12000, 6000
    raw = decode_bytes(dicom_bytes(ds), "x.dcm", voi=False).values()
    np.testing.assert_allclose(_norm(raw), 1 - _norm(ds.pixel_array), atol=1e-6)


def test_bits_above_bits_stored_are_masked_and_meta_reported():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 4096, (80, 96), dtype=np.uint16)
    overlay = np.zeros_like(image)
    overlay[10:20, 10:20] = 1 << 15  # an overlay plane in the unused high bit
    ds = dicom_dataset(image | overlay, bits_stored=12, WindowCenter=2048, WindowWidth=4096)
    got = decode_bytes(dicom_bytes(ds), "overlay.dcm")
    np.testing.assert_array_equal(got.pixels, image)
    assert (got.meta.height, got.meta.width, got.meta.bits, got.meta.photometric) == (80, 96, 12, "MONOCHROME2")


def test_png_keeps_16_bits_and_reduces_colour_to_luminance_without_alpha():
    img16 = (chest_like(70, 90) * 4000 + 100).astype(np.uint16)
    got = decode_bytes(png_bytes(img16), "a.png")
    assert got.pixels.dtype == np.uint16 and got.meta.bits == 16
    np.testing.assert_array_equal(got.pixels, img16)

    rgb = np.random.default_rng(1).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    alpha = np.full((70, 90, 1), 7, np.uint8)  # nearly transparent: must not darken anything
    bgra = np.concatenate([rgb[..., ::-1], alpha], axis=2)
    got = decode_bytes(png_bytes(bgra), "rgba.png")
    luma = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]
    assert got.meta.photometric == "RGBA" and got.pixels.ndim == 2
    assert np.abs(got.pixels.astype(np.float64) - luma).max() <= 1.0


def test_png_eight_bit_read_is_the_study_read():
    img16 = (chest_like(70, 90) * 60000).astype(np.uint16)
    data = png_bytes(img16)
    got = decode_bytes(data, "a.png", eight_bit=True)
    np.testing.assert_array_equal(got.pixels, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE))
    np.testing.assert_array_equal(got.pixels, (img16 >> 8).astype(np.uint8))


def test_jpeg_is_decoded_at_the_smallest_dct_scale_covering_the_target():
    data = jpeg_bytes((chest_like(1000, 800) * 255).astype(np.uint8))
    full = decode_bytes(data, "a.jpg")
    small = decode_bytes(data, "a.jpg", draft_to=(120, 90))
    assert full.pixels.shape == (1000, 800)
    assert small.pixels.shape == (125, 100)  # 1/8 still covers 120 x 90
    assert decode_bytes(data, "a.jpg", draft_to=lambda h, w: (300, 300)).pixels.shape == (500, 400)
    assert (small.meta.height, small.meta.width) == (1000, 800)  # meta keeps the original size


def test_wrong_format_names_both_sides():
    jpg = jpeg_bytes(np.full((80, 80), 100, np.uint8))
    with pytest.raises(QuarantineError) as err:
        decode_bytes(jpg, "a.png")
    assert err.value.status is Status.WRONG_FORMAT and "extension says png, content is jpeg" in err.value.detail
    assert decode_bytes(jpg, "a.unknownext").meta.format == "jpeg"  # unknown extension: sniffed
    with pytest.raises(QuarantineError) as err:
        decode_bytes(b"I am text\n" * 20, "b.dcm")
    assert err.value.status is Status.WRONG_FORMAT


def test_size_is_checked_from_the_header_before_decoding():
    data = png_bytes(np.zeros((40, 300), np.uint8))
    with pytest.raises(QuarantineError) as err:
        decode_bytes(data, "tiny.png", min_side=64, max_side=10000)
    assert err.value.status is Status.IMPLAUSIBLE_SIZE and err.value.shape == (40, 300)
    with pytest.raises(QuarantineError) as err:
        decode_bytes(data, "tiny.png", min_side=8, max_side=200)
    assert err.value.status is Status.IMPLAUSIBLE_SIZE


def test_paths_may_not_leave_the_root(tmp_path):
    root = tmp_path / "root"
    outside = write(tmp_path / "outside.png", b"x")
    inside = write(root / "a" / "in.png", b"x")
    (root / "escape.png").symlink_to(outside)
    (root / "a" / "alias.png").symlink_to(inside)
    for rel in ("../outside.png", "a/../../outside.png", "escape.png", str(outside), "", "."):
        with pytest.raises(QuarantineError) as err:
            resolve_in_root(root, rel)
        assert err.value.status is Status.PATH_ESCAPE, rel
    assert resolve_in_root(root, "a/alias.png") == inside.resolve()
    assert resolve_in_root(root, "a/../a/in.png") == inside.resolve()
    assert str(tmp_path) not in str(pytest.raises(QuarantineError, resolve_in_root, root, "escape.png").value)


def test_dicom_failures_are_typed():
    good = dicom_bytes(dicom_dataset((chest_like(96, 96) * 4000).astype(np.uint16), bits_stored=12))
    for data, status in [
        (good[: len(good) - 5000], Status.TRUNCATED),
        (dicom_bytes(dicom_dataset(None)), Status.NO_PIXEL_DATA),
    ]:
        with pytest.raises(QuarantineError) as err:
            decode_bytes(data, "x.dcm")
        assert err.value.status is status
    j2k = pydicom_file("RG1_J2KR.dcm").read_bytes()
    with pytest.raises(QuarantineError) as err:
        decode_bytes(j2k[: len(j2k) // 2], "cut.dcm")
    assert err.value.status is Status.TRUNCATED
    ds = pydicom.dcmread(io.BytesIO(pydicom_file("emri_small_jpeg_2k_lossless.dcm").read_bytes()))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML
    buf = io.BytesIO()
    ds.save_as(buf)
    with pytest.raises(QuarantineError) as err:
        decode_bytes(buf.getvalue(), "video.dcm", min_side=16)
    assert err.value.status is Status.UNSUPPORTED_SYNTAX and "MPEG2" in err.value.detail


def test_decode_file_reports_missing_and_empty(tmp_path):
    with pytest.raises(QuarantineError) as err:
        decode_file(tmp_path / "nope.png")
    assert err.value.status is Status.MISSING
    with pytest.raises(QuarantineError) as err:
        decode_file(write(tmp_path / "empty.png", b""))
    assert err.value.status is Status.ZERO_BYTES
    os.mkdir(tmp_path / "dir.png")
    os.mkfifo(tmp_path / "pipe.png")  # reading it would block forever
    for name in ("dir.png", "pipe.png"):
        with pytest.raises(QuarantineError) as err:
            decode_file(tmp_path / name)
        assert err.value.status is Status.WRONG_FORMAT
    with pytest.raises(QuarantineError) as err:
        read_source(write(tmp_path / "big.dcm", b"x" * 100), "big.dcm", max_bytes=99)
    assert err.value.status is Status.IMPLAUSIBLE_SIZE


# --- files that viewers open (issue 11.5): each decoded as pydicom / Pillow / OpenCV show it -----------


def test_an_empty_window_is_ignored_and_noted_like_pydicom_does():
    from tests.viewerfiles import empty_window

    data = empty_window()
    ds = pydicom.dcmread(io.BytesIO(data))
    assert "WindowCenter" in ds and ds.WindowCenter in (None, "")  # present, empty: the case viewers meet
    got = decode_bytes(data, "rg1_empty_window.dcm")
    assert "ignored window" in got.meta.note and "empty" in got.meta.note
    np.testing.assert_allclose(_norm(got.values()), _norm(_pydicom_chain(ds)), atol=1e-6)
    assert got.pixels.dtype == np.uint16  # no window, no clipping: the stored values are kept


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_a_dataset_without_preamble_or_file_meta_is_read_with_the_vr_it_was_written_in(implicit):
    from tests.viewerfiles import without_file_meta

    data = without_file_meta(implicit=implicit)
    assert data[128:132] != b"DICM" and not data.startswith(b"\x02\x00")
    got = decode_bytes(data, "bare.dcm")
    want = decode_file(pydicom_file("RG1_UNCR.dcm"))
    syntax = "Implicit" if implicit else "Explicit"
    assert got.meta.format == f"DICOM {syntax} VR Little Endian"
    assert "no file meta group" in got.meta.note
    np.testing.assert_array_equal(got.values(), want.values())
    # pydicom reads it the same way when told to (force=True: there is no 'DICM' to find)
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    assert ds.original_encoding[0] is implicit


def test_compressed_pixel_data_without_file_meta_names_what_is_missing():
    from tests.viewerfiles import without_file_meta

    with pytest.raises(QuarantineError, match="compressed .*no file meta group") as err:
        decode_bytes(without_file_meta("RG1_J2KR.dcm"), "bare_j2k.dcm")
    assert err.value.status is Status.UNSUPPORTED_SYNTAX


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_opencv_and_pillow_show_the_file(tmp_path, fmt, orientation):
    from PIL import Image, ImageOps

    from tests.viewerfiles import rg1_upright_8bit, with_orientation

    upright = rg1_upright_8bit(shrink=8)  # 245x231: not square, so a sideways result has the wrong shape
    data = with_orientation(upright, orientation, fmt)
    path = write(tmp_path / f"film.{fmt.lower()}", data)
    got = decode_bytes(data, path.name)
    shown_cv = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)  # the study's reader, its defaults
    shown_pil = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("L"))
    np.testing.assert_array_equal(got.pixels, shown_cv)
    np.testing.assert_array_equal(got.pixels, shown_pil)
    assert got.pixels.shape == upright.shape == (got.meta.height, got.meta.width)
    assert np.abs(got.pixels.astype(int) - upright).mean() < 2  # upright again (JPEG q100 ~ lossless)
    assert (f"EXIF Orientation {orientation} applied" in got.meta.note) is (orientation != 1)


def test_a_sideways_jpeg_is_drafted_to_cover_the_upright_target():
    from tests.viewerfiles import rg1_upright_8bit, with_orientation

    upright = rg1_upright_8bit(shrink=2)  # 978x921
    data = with_orientation(upright, 6)
    got = decode_bytes(data, "film.jpg", draft_to=(240, 120))  # tall and thin, like the upright film
    h, w = got.pixels.shape
    assert h >= 240 and w >= 120 and h > w
    assert (h, w) == (math.ceil(978 / 4), math.ceil(921 / 4))  # 1/4 is the smallest scale covering it


@pytest.mark.parametrize("first", ["StudyDescription", "PatientName", "SamplesPerPixel"])
@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_a_bare_dataset_is_recognised_whatever_element_comes_first(first, implicit):
    """No preamble, no file meta: the first element may be any of an image's groups (0008,1030), (0010,...), ..."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = pydicom.dcmread(pydicom_file("RG1_UNCR.dcm"))
    ds.StudyDescription, ds.PatientName = "chest", "Anon^Patient"
    tag = pydicom.datadict.tag_for_keyword(first)
    bare = pydicom.Dataset()
    for elem in ds:  # everything from `first` on: it is the file's first element
        if elem.tag >= tag:
            bare.add(elem)
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    write_dataset(fp, bare)
    data = fp.getvalue()
    assert struct.unpack_from("<HH", data) == (tag >> 16, tag & 0xFFFF)
    got = decode_bytes(data, "bare.dcm")
    np.testing.assert_array_equal(got.values(), decode_file(pydicom_file("RG1_UNCR.dcm")).values())
