"""make_splits: patient-wise, seeded, order-independent, official where asked; leakage checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxrinit.labels import (LabelDataError, LeakageError, check_patient_disjoint, check_pretraining_leakage,
                            make_splits, split_summary)


def _cohort(n_patients: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 5, n_patients)
    patient = np.repeat([f"p{i:05d}" for i in range(n_patients)], per)
    return pd.DataFrame({"source": "chexpert", "image_id": [f"img{i}" for i in range(len(patient))],
                         "patient_id": patient, "official_split": pd.NA}).astype("str")


def test_patient_wise_seeded_fractions() -> None:
    m = _cohort()
    splits = make_splits(m, seed=7, test_fraction=0.2, val_fraction=0.1)
    assert list(splits.columns) == ["image_id", "patient_id", "split"]
    assert splits["image_id"].tolist() == m["image_id"].tolist()
    check_patient_disjoint(splits)
    summary = split_summary(splits).set_index("split")
    # 4,000 patients: the binomial SD of a share is <= 0.8 points; 3 SD of room.
    assert summary.loc["test", "patient_fraction"] == pytest.approx(0.20, abs=0.02)
    assert summary.loc["val", "patient_fraction"] == pytest.approx(0.08, abs=0.015)  # 10% of the 80%
    assert summary["images"].sum() == len(m)
    assert make_splits(m, seed=7).equals(splits)
    assert not make_splits(m, seed=8)["split"].equals(splits["split"])


def test_split_does_not_depend_on_row_order_or_other_patients() -> None:
    m = _cohort()
    splits = make_splits(m, seed=3).set_index("image_id")["split"]
    shuffled = m.sample(frac=1.0, random_state=1)
    again = make_splits(shuffled, seed=3).set_index("image_id")["split"]
    assert again.reindex(splits.index).equals(splits)
    subset = m[m["patient_id"] < "p01000"]
    part = make_splits(subset, seed=3).set_index("image_id")["split"]
    assert part.equals(splits.reindex(part.index))


def test_no_validation_split() -> None:
    splits = make_splits(_cohort(500), seed=1, val_fraction=0.0)
    assert set(splits["split"]) == {"train", "test"}


def test_official_split_with_val_carved_from_train() -> None:
    m = _cohort(2000)
    test_patients = m["patient_id"].drop_duplicates().iloc[::4]  # every 4th patient is officially test
    m["official_split"] = np.where(m["patient_id"].isin(test_patients), "test", "train")
    splits = make_splits(m, seed=11, val_fraction=0.1, use_official=True)
    assert (splits["split"] == "test").tolist() == (m["official_split"] == "test").tolist()
    val_patients = splits.loc[splits["split"] == "val", "patient_id"].unique()
    assert not set(val_patients) & set(test_patients)
    train_patients = m.loc[m["official_split"] == "train", "patient_id"].nunique()
    assert len(val_patients) / train_patients == pytest.approx(0.1, abs=0.025)
    check_patient_disjoint(splits)
    plain = make_splits(m, seed=11, val_fraction=0.0, use_official=True)
    assert plain["split"].tolist() == m["official_split"].tolist()


def test_official_val_is_kept() -> None:
    m = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "patient_id": ["1", "1", "2", "3"],
                      "official_split": ["train", "train", "val", "test"]})
    splits = make_splits(m, seed=0, val_fraction=0.5, use_official=True)
    assert splits["split"].tolist() == ["train", "train", "val", "test"]


def test_official_split_missing_values_fail() -> None:
    m = pd.DataFrame({"source": "padchest", "image_id": ["a", "b"], "patient_id": ["1", "2"],
                      "official_split": ["train", pd.NA]})
    with pytest.raises(LabelDataError, match=r"padchest manifest, column 'official_split', row 1 \(image_id 'b'\): "
                                             r"1 image\(s\) have no official split.*use_official: false"):
        make_splits(m, seed=0, use_official=True)


def test_blank_patient_id_fails() -> None:
    m = pd.DataFrame({"image_id": ["a", "b"], "patient_id": ["1", pd.NA]})
    with pytest.raises(LabelDataError, match=r"column 'patient_id', row 1 \(image_id 'b'\): blank patient id"):
        make_splits(m, seed=0, source="nih")


def test_official_split_that_leaks_a_patient_fails() -> None:
    m = pd.DataFrame({"image_id": ["a", "b", "c"], "patient_id": ["1", "1", "2"],
                      "official_split": ["train", "test", "test"]})
    with pytest.raises(LeakageError, match=r"nih: 1 patient\(s\) have images in more than one split \(e\.g\. 1: "
                                           r"test, train\)"):
        make_splits(m, seed=0, val_fraction=0.0, use_official=True, source="nih")


def test_bad_fractions() -> None:
    with pytest.raises(ValueError, match="test_fraction must be a fraction"):
        make_splits(_cohort(10), seed=0, test_fraction=1.0)


def test_pretraining_leakage() -> None:
    m = _cohort(1000)
    target = make_splits(m, seed=5)
    pretrain = target[target["split"] == "train"]
    check_pretraining_leakage(pretrain, target)  # the train split of the same seed: clean
    check_pretraining_leakage(pretrain["patient_id"].tolist(), target)
    test_patient = target.loc[target["split"] == "test", "patient_id"].iloc[0]
    with pytest.raises(LeakageError, match=rf"mimic: 1 held-out patient\(s\).*\{{'test': 1\}}; e\.g\. {test_patient}"):
        check_pretraining_leakage([*pretrain["patient_id"], test_patient], target)
    other_seed = make_splits(m, seed=6)
    with pytest.raises(LeakageError, match="held-out patient"):
        check_pretraining_leakage(other_seed[other_seed["split"] == "train"], target)


def test_a_copy_without_any_official_split_is_carved_patient_wise():
    m = pd.DataFrame({"image_id": [f"i{k}" for k in range(400)], "patient_id": [f"p{k // 2}" for k in range(400)],
                      "official_split": pd.Series([pd.NA] * 400, dtype="str")})
    carved = make_splits(m, seed=3, use_official=True, test_fraction=0.2, val_fraction=0.1)
    assert set(carved["split"]) == {"train", "val", "test"}
    assert carved.groupby("patient_id")["split"].nunique().max() == 1
    assert carved["split"].tolist() == make_splits(m, seed=3, use_official=False)["split"].tolist()
    m.loc[0, "official_split"] = "train"   # some images with an official split, some without: an error
    with pytest.raises(LabelDataError, match="have no official split"):
        make_splits(m, seed=3, use_official=True)
