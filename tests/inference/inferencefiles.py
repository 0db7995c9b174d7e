"""Real image files (PNG 8/16-bit, JPEG, DICOM MONOCHROME1) and broken ones, and a tiny registered model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.viewerfiles import empty_window, rg1_path, rg1_upright_8bit, with_orientation, without_file_meta

FINDINGS = ["Cardiomegaly", "Pleural effusion", "Nodule/Mass"]


def radiograph(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth float image in [0, 1] with a bright body, two darker lungs and random blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / height, xx / width
    img = 0.3 + 0.2 * yy + 0.3 * ((((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.5) ** 2) < 1)
    for cx in (0.3, 0.7):
        img -= 0.25 * np.exp(-(((xx - cx) / 0.15) ** 2 + ((yy - 0.45) / 0.28) ** 2))
    for _ in range(5):
        cy, cx, s = rng.random(), rng.random(), rng.uniform(0.04, 0.1)
        img += rng.normal(0, 0.15) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    return ((img - img.min()) / (img.max() - img.min())).astype(np.float32)


def encode(ext: str, arr: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, arr, list(params))
    assert ok
    return buf.tobytes()


def dicom(pixels: np.ndarray | None, photometric: str = "MONOCHROME1", bits_stored: int = 12) -> bytes:
    """A DX DICOM file (Explicit VR Little Endian) holding uint16 ``pixels``, or no Pixel Data when None."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["cxrinit-inference-test", photometric])
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PhotometricInterpretation, ds.SamplesPerPixel = "DX", photometric, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    if pixels is None:
        ds.Rows, ds.Columns = 128, 128
    else:
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.astype("<u2").tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write_images(root: Path) -> dict[str, str]:
    """Good and bad files under ``root``; returns relative path -> expected status."""
    files: dict[str, tuple[bytes, str]] = {
        "a/chest8.png": (encode(".png", (radiograph(80, 96, 1) * 255).astype(np.uint8)), "ok"),
        "a/chest16.png": (encode(".png", (radiograph(100, 90, 2) * 65535).astype(np.uint16)), "ok"),
        "b/chest.jpg": (encode(".jpg", (radiograph(120, 100, 3) * 255).astype(np.uint8),
                               cv2.IMWRITE_JPEG_QUALITY, 92), "ok"),
        # dense = dark in MONOCHROME1: stored inverted, 12 bits used of 16
        "b/deep/mono1.DCM": (dicom(((1 - radiograph(90, 110, 4)) * 4095).astype(np.uint16)), "ok"),
        "bad/nopixels.dcm": (dicom(None), "no_pixel_data"),
        "bad/notimage.jpg": (b"this is a text file, not a JPEG\n" * 4, "wrong_format"),
        "bad/empty.png": (b"", "zero_bytes"),
    }
    # files viewers open, from pydicom-data's real chest film: each must be read as the plain one
    # cut to whole 16-px JPEG blocks, so the draft decoder (1/8 scale) sees the same blocks either way up
    upright = np.ascontiguousarray(rg1_upright_8bit(shrink=8)[:240, :224])
    files.update({
        "c/rg1.dcm": (rg1_path().read_bytes(), "ok"),
        "c/rg1_empty_window.dcm": (empty_window(), "ok"),
        "c/rg1_no_file_meta.dcm": (without_file_meta(), "ok"),
        "c/rg1_upright.jpg": (with_orientation(upright, 1), "ok"),
        "c/rg1_sideways.jpg": (with_orientation(upright, 6), "ok"),
    })
    whole = encode(".png", (radiograph(96, 96, 5) * 255).astype(np.uint8))
    files["bad/truncated.png"] = (whole[: len(whole) // 2], "truncated")
    for rel, (data, _) in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "a" / "notes.txt").write_text("not an image: folders skip it\n")
    return {rel: status for rel, (_, status) in files.items()}


def tiny_vit(seed: int):
    """A 2-block ViT at 32 px with patch 8: the study's architecture family in miniature."""
    import timm
    import torch

    torch.manual_seed(seed)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=2,
                              num_classes=len(FINDINGS))
    # a random head gives near-0.5 probabilities; scale it so the test compares values that differ
    with torch.no_grad():
        model.head.weight.mul_(20)
    return model.eval()


def store_preprocessing(store_dir: Path, store_size: int) -> dict:
    """What the training cell records: the store's recipe (its fingerprint) and resolution."""
    fingerprint = json.loads((store_dir / "fingerprint.json").read_text())
    return {"recipe": fingerprint["recipe"], "store_size": store_size}
