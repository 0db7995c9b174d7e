"""The preprocessing recipe: min-max, equalization, letterbox, bit depth, JPEG draft, presets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from imagingfiles import chest_like, jpeg_bytes, png_bytes
from scipy import ndimage

from cxrinit.imaging.decode import DecodedImage, ImageMeta, decode_bytes
from cxrinit.imaging.process import process_image
from cxrinit.imaging.reasons import QuarantineError, Status
from cxrinit.imaging.transforms import Recipe, content_shape, minmax_uint8, preprocess, resize


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


def test_minmax_spans_uint8_and_equalization_flattens_the_histogram():
    skewed = (chest_like(300, 260) ** 3 * 3000 + 500).astype(np.uint16)  # most pixels dark
    plain = preprocess(skewed, 128, Recipe(equalize=False))
    assert plain.dtype == np.uint8 and plain.shape == (128, 128)
    assert (plain.min(), plain.max()) == (0, 255)
    assert np.median(plain) < 60
    eq = preprocess(skewed, 128)
    np.testing.assert_array_equal(eq, cv2.equalizeHist(plain))  # equalization comes after the uint8 step
    levels = np.bincount(eq.ravel(), minlength=256) / eq.size
    quarters = levels.reshape(4, 64).sum(axis=1)
    assert 0.2 < quarters[1:].min() and quarters[1:].max() < 0.3  # near-uniform above the black spike
    assert np.bincount(plain.ravel(), minlength=256).reshape(4, 64).sum(axis=1).max() / plain.size > 0.5
    order = np.argsort(plain.ravel(), kind="stable")
    assert np.all(np.diff(eq.ravel()[order].astype(int)) >= 0)  # equalization is monotone


def test_a_constant_image_is_quarantined_as_blank():
    with pytest.raises(QuarantineError) as err:
        preprocess(np.full((100, 100), 7, np.uint16), 64)
    assert err.value.status is Status.BLANK
    with pytest.raises(QuarantineError):
        minmax_uint8(np.array([[np.nan, 1.0]], np.float32))


def test_letterbox_keeps_the_aspect_and_pads_with_zero_after_equalization():
    wide = chest_like(100, 300)
    out = preprocess(wide, 96, Recipe(fit="letterbox"))
    assert content_shape(100, 300, 96, "letterbox") == (32, 96)
    assert out.shape == (96, 96)
    assert not out[:32].any() and not out[64:].any()  # 32 padding rows above and below
    body = out[32:64]
    assert body.max() == 255 and (body == 0).mean() < 0.05  # equalized on the image pixels only
    tall = preprocess(chest_like(300, 100), 96, Recipe(fit="letterbox"))
    assert not tall[:, :32].any() and not tall[:, 64:].any()
    stretched = preprocess(wide, 96)
    assert (stretched.mean(axis=1) > 0).all()  # stretch fills every row


def test_sixteen_bit_png_depth_is_kept_by_default_and_dropped_by_the_paper_read():
    twelve_bit = (chest_like(400, 400, seed=3) * 4095).astype(np.uint16)  # PadChest-like 12-bit values
    data = png_bytes(twelve_bit)
    native = preprocess(decode_bytes(data, "p.png"), 224, Recipe(equalize=False))
    paper_img = decode_bytes(data, "p.png", eight_bit=True)
    paper = preprocess(paper_img, 224, Recipe.paper(equalize=False, interpolation="area"))
    assert paper_img.pixels.max() <= 15  # the high byte of 12-bit data: 16 grey levels
    assert len(np.unique(native)) > 200
    assert len(np.unique(paper)) < len(np.unique(native)) / 2


def test_jpeg_draft_gives_nearly_the_full_decode_result(tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes((chest_like(2000, 1700, seed=5) * 255).astype(np.uint8)))
    drafted = process_image(tmp_path, "a.jpg", (224,), Recipe())
    full = process_image(tmp_path, "a.jpg", (224,), Recipe(jpeg_draft=False))
    assert drafted.status is Status.OK and full.status is Status.OK
    assert _corr(drafted.images[224], full.images[224]) > 0.99


def test_two_stage_area_resize_matches_single_area_resize():
    img = chest_like(1500, 1300, seed=7)
    for size in (224, 512):
        ours = resize(img, (size, size))
        ref = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        assert ours.shape == (size, size)
        assert _corr(ours, ref) > 0.995
    assert resize(img[:50, :60], (100, 120)).shape == (100, 120)  # enlarging works too


def test_the_affine_part_is_applied_after_resizing_with_the_same_result():
    raw = (chest_like(500, 400) * 16000).astype(np.uint16)
    meta = ImageMeta(500, 400, "MONOCHROME1", 14, "test")
    lazy = DecodedImage(raw, meta, scale=-0.5, offset=9000.0)
    eager = DecodedImage(lazy.values(), meta)
    flat = Recipe(equalize=False)
    a, b = preprocess(lazy, 128, flat), preprocess(eager, 128, flat)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # uint16 averaging rounds, float does not
    assert _corr(preprocess(lazy, 128), preprocess(eager, 128)) > 0.999
    assert _corr(a, preprocess(raw, 128, flat)) < -0.99  # the negative scale really inverts


def test_paper_recipe_reproduces_the_study_pipeline():
    img8 = (chest_like(900, 700, seed=2) * 255).astype(np.uint8)
    ours = preprocess(img8, 224, Recipe.paper())
    z = ndimage.zoom(img8, (224 / 900, 224 / 700), order=2).astype(np.float64)
    study = cv2.equalizeHist(np.rint((z - z.min()) / (z.max() - z.min()) * 255).astype(np.uint8))
    np.testing.assert_array_equal(ours, study)


def test_recipe_validates_and_builds_from_configuration():
    assert Recipe() == Recipe.from_dict({})
    paper = Recipe.from_dict({"preset": "paper", "fit": "letterbox"})
    assert (paper.bit_depth, paper.interpolation, paper.voi, paper.jpeg_draft, paper.fit) == (
        "8bit", "zoom2", False, False, "letterbox")
    assert Recipe.from_dict(paper.to_dict()) == paper
    with pytest.raises(ValueError, match="fit"):
        Recipe(fit="crop")
    with pytest.raises(ValueError, match="min_side"):
        Recipe(min_side=500, max_side=100)
    with pytest.raises(ValueError, match="bogus"):
        Recipe.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="preset"):
        Recipe.from_dict({"preset": "fancy"})
    with pytest.raises(ValueError, match="equalize"):
        Recipe(equalize="yes")  # type: ignore[arg-type]
