"""Split assembly with counted drops, the seeded sampler, the batch loader, model input, predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cxrinit.models import InputContract, build_model
from cxrinit.training.augment import AugmentConfig
from cxrinit.training.data import ArrayStore, assemble_split
from cxrinit.training.loader import BatchLoader, to_model_input
from cxrinit.training.predict import predict, prediction_table
from cxrinit.training.sampler import EpochSampler
from trainingdata import TINY_INIT


def test_assemble_split_counts_every_drop(dataset) -> None:
    store, labels, splits = dataset
    index = store.index.copy()
    index.loc[index.image_id == "img0002", "status"] = "truncated"
    index = index[index.image_id != "img0003"]
    repeat = index[index.image_id == "img0010"].assign(row=len(store.images) - 1, status="duplicate_id")
    index = pd.concat([index, repeat], ignore_index=True)  # a repeated id: its first row counts
    labels = labels[labels.image_id != "img0006"].copy()
    labels.loc[labels.image_id == "img0007", ["cardiomegaly", "effusion", "pneumothorax"]] = np.nan
    train = assemble_split(ArrayStore(store.images, index), labels, splits, "train")
    assert train.dropped == {"store status truncated": 1, "not in pixel store": 1, "no labels row": 1,
                             "no annotated finding": 1}
    assert len(train) + sum(train.dropped.values()) == int((splits.split == "train").sum())
    assert set(train.image_ids).isdisjoint({"img0002", "img0003", "img0006", "img0007"})
    row = {i: r for i, r in zip(index.image_id, index.row) if i != "img0010" or r != len(store.images) - 1}
    assert [row[i] for i in train.image_ids] == train.rows.tolist()
    expected = labels.set_index("image_id").loc[list(train.image_ids)].to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(train.labels, expected)


def test_assemble_split_rejects_bad_input(dataset) -> None:
    store, labels, splits = dataset
    bad = labels.copy()
    bad.loc[5, "effusion"] = 2.0
    with pytest.raises(ValueError, match=r"image_id 'img0005', column 'effusion' holds 2\.0"):
        assemble_split(store, bad, splits, "train")
    with pytest.raises(ValueError, match=r"lacks finding column\(s\) \['edema'\]"):
        assemble_split(store, labels, splits, "train", ["edema"])
    with pytest.raises(ValueError, match="split 'validate' is empty"):
        assemble_split(store, labels, splits, "validate")


def test_sampler_is_seeded_sharded_and_checkpointable() -> None:
    a, b = EpochSampler(50, 8, seed=3), EpochSampler(50, 8, seed=3)
    assert np.array_equal(np.concatenate(list(a)), np.concatenate(list(b)))
    first = np.concatenate(list(a))
    a.set_epoch(1)
    assert sorted(first) == list(range(50)) and not np.array_equal(np.concatenate(list(a)), first)
    shards = [EpochSampler(50, 8, seed=3, rank=r, world_size=4).shard() for r in range(4)]
    assert all(len(s) == 13 for s in shards) and set(np.concatenate(shards)) == set(range(50))
    resumed = EpochSampler(50, 8, seed=3)
    it = iter(resumed)
    taken = [next(it), next(it)]
    state = resumed.state_dict()
    fresh = EpochSampler(50, 8, seed=3)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate(taken + list(fresh)), first)
    with pytest.raises(ValueError, match="training set or seed changed"):
        EpochSampler(49, 8, seed=3).load_state_dict(state)


def test_batch_loader_reads_sorted_rows_with_matching_labels(dataset) -> None:
    store, labels, splits = dataset
    train = assemble_split(store, labels, splits, "train")
    sampler = EpochSampler(len(train), 10, seed=0)
    seen = []
    for batch in BatchLoader(store.images, train.rows, train.labels, sampler):
        rows = train.rows[batch.positions]
        assert np.all(np.diff(rows) > 0)
        np.testing.assert_array_equal(batch.images.numpy(), store.images[rows])
        np.testing.assert_array_equal(batch.labels.numpy(), train.labels[batch.positions])
        seen.extend(batch.positions)
    assert sorted(seen) == list(range(len(train)))

    def broken():
        yield np.array([0, 1])
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        list(BatchLoader(store.images, train.rows, train.labels, broken()))


def test_model_input_paper_and_init_normalization() -> None:
    pixels = torch.randint(0, 256, (2, 16, 16), dtype=torch.uint8)
    paper = to_model_input(pixels, InputContract(3, 16, (0, 0, 0), (1, 1, 1), "paper"), "cpu")
    assert paper.shape == (2, 3, 16, 16)
    assert torch.equal(paper, (pixels.float() / 255)[:, None].expand(-1, 3, -1, -1))
    own = InputContract(3, 16, (0.5, 0.4, 0.3), (0.2, 0.25, 0.5), "init")
    normalized = to_model_input(pixels, own, "cpu")
    expected = (paper - torch.tensor(own.mean)[:, None, None]) / torch.tensor(own.std)[:, None, None]
    assert torch.allclose(normalized, expected, atol=1e-6)
    resized = to_model_input(pixels, InputContract(3, 8, (0, 0, 0), (1, 1, 1), "paper"), "cpu",
                             AugmentConfig(), torch.Generator().manual_seed(0))
    assert resized.shape == (2, 3, 8, 8) and 0 <= resized.min() and resized.max() <= 1


def test_predict_returns_probabilities_in_the_order_asked(dataset, tmp_path: Path) -> None:
    store, labels, splits = dataset
    model, contract = build_model(TINY_INIT, 3, 32, seed=0)
    ids = ["img0010", "img0001", "img0050", "img0003", "img0010"]
    probs = predict(model, store, ids, contract, batch_size=2, device="cpu")
    assert probs.shape == (5, 3) and probs.dtype == np.float32
    assert ((probs > 0) & (probs < 1)).all()
    rows = store.index.set_index("image_id").loc[ids, "row"].to_numpy()
    with torch.no_grad():
        direct = torch.sigmoid(model.eval()(to_model_input(torch.from_numpy(store.images[rows]), contract, "cpu")))
    np.testing.assert_allclose(probs, direct.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"e\.g\. 'nope' \(not in pixel store\)"):
        predict(model, store, ["img0001", "nope"], contract)
    test = assemble_split(store, labels, splits, "test")
    table = prediction_table(test, predict(model, store, test.image_ids, contract, device="cpu"))
    assert list(table.columns[:3]) == ["image_id", "split", "patient_id"]
    assert {"prob_effusion", "label_effusion"} <= set(table.columns) and (table.split == "test").all()
    assert table["label_effusion"].isna().sum() == int(np.isnan(test.labels[:, 1]).sum())
