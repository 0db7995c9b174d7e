"""Masked pos-weighted BCE, pos_weight counting, on-device batch augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cxrinit.training.augment import AugmentConfig, affine_grid, affine_matrices, augment, sample_params, warp
from cxrinit.training.data import pos_weight
from cxrinit.training.loss import masked_bce

NAN = float("nan")


def test_masked_bce_matches_hand_computation() -> None:
    logits = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    targets = torch.tensor([[1.0, NAN, 0.0], [0.0, 1.0, NAN]])
    w = torch.tensor([2.0, 3.0, 0.5])

    def sig(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    terms = [-2.0 * math.log(sig(0.5)), -math.log(1 - sig(2.0)), -math.log(1 - sig(1.5)), -3.0 * math.log(sig(0.0))]
    expected = sum(terms) / 4  # four annotated entries; the two NaNs count for nothing
    got = masked_bce(logits, targets, w)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    logits.requires_grad_(True)
    masked_bce(logits, targets, w).backward()
    assert logits.grad[0, 1] == 0 and logits.grad[1, 2] == 0  # masked entries get no gradient
    assert masked_bce(logits, torch.full_like(targets, NAN), w).item() == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        masked_bce(logits, targets[:, :2], w)


def test_pos_weight_counts_only_annotated_entries() -> None:
    labels = np.array([[1, 0, NAN], [0, NAN, NAN], [0, 0, 1], [NAN, 1, 1], [1, 0, 0]], dtype=np.float32)
    # finding 0: 2 pos / 2 neg; finding 1: 1 pos / 3 neg; finding 2: 2 pos / 1 neg
    assert pos_weight(labels).tolist() == pytest.approx([1.0, 3.0, 0.5])
    no_positive = np.array([[0, 1], [0, 0], [NAN, 1]], dtype=np.float32)
    assert pos_weight(no_positive, ["a", "b"]).tolist() == pytest.approx([1.0, 0.5])


def test_custom_affine_grid_equals_torch() -> None:
    params = sample_params(AugmentConfig(scale=0.1, translate=0.1), 4, torch.Generator().manual_seed(0))
    for h, w in ((16, 16), (12, 20)):
        theta = affine_matrices(params, h, w)
        assert torch.allclose(affine_grid(theta, h, w), F.affine_grid(theta, (4, 1, h, w), align_corners=False),
                              atol=1e-6)


def test_identity_flip_and_quarter_turn() -> None:
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    zero = {"flip": torch.zeros(3, dtype=torch.bool), "angle": torch.zeros(3), "scale": torch.ones(3),
            "shift": torch.zeros(3, 2)}
    assert torch.allclose(warp(x, affine_matrices(zero, 16, 16)), x, atol=1e-5)
    flipped = warp(x, affine_matrices({**zero, "flip": torch.ones(3, dtype=torch.bool)}, 16, 16))
    assert torch.allclose(flipped, x.flip(-1), atol=1e-5)
    quarter = warp(x, affine_matrices({**zero, "angle": torch.full((3,), math.pi / 2)}, 16, 16), "nearest")
    assert torch.equal(quarter, torch.rot90(x, 1, (-2, -1))) or torch.equal(quarter, torch.rot90(x, -1, (-2, -1)))


def test_augment_shapes_ranges_and_seed_determinism() -> None:
    x = torch.rand(8, 1, 24, 24, generator=torch.Generator().manual_seed(2))
    cfg = AugmentConfig(flip_p=0.5, rotate_deg=7, scale=0.05, translate=0.05, brightness=0.1, contrast=0.1)
    a = augment(x, cfg, torch.Generator().manual_seed(3))
    b = augment(x, cfg, torch.Generator().manual_seed(3))
    c = augment(x, cfg, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(augment(x, AugmentConfig(flip_p=0, rotate_deg=0), torch.Generator()), x)
    study = sample_params(AugmentConfig(), 10_000, torch.Generator().manual_seed(5))
    assert study["angle"].abs().max() <= math.radians(7) + 1e-7
    assert 0.47 < study["flip"].float().mean() < 0.53
    with pytest.raises(ValueError, match="flip_p"):
        AugmentConfig(flip_p=1.5)
