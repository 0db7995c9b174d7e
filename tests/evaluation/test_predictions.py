"""Bad predictions tables fail with errors that name the column, row or image."""

from __future__ import annotations

import numpy as np
import pytest

from cxrinit.evaluation import align_split, bootstrap_metrics, validate_predictions


def test_valid_table_lists_its_findings(make_predictions):
    df = make_predictions()["dinov2"]
    assert validate_predictions(df) == ["cardiomegaly", "effusion"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.drop(columns="label_effusion"), "prob_effusion"),
    (lambda d: d.drop(columns="patient_id"), "patient_id"),
    (lambda d: d.assign(label_effusion=2.0), "label_effusion"),
    (lambda d: d.assign(prob_cardiomegaly=1.5), "prob_cardiomegaly"),
    (lambda d: d.assign(prob_cardiomegaly=np.nan), "prob_cardiomegaly"),
    (lambda d: d.assign(split="train"), "train"),
    (lambda d: d.assign(image_id="same"), "duplicated image_id"),
    (lambda d: d.assign(prob_mean=0.5, label_mean=1.0), "reserved"),
])
def test_bad_tables_are_rejected_by_name(make_predictions, edit, message):
    df = edit(make_predictions()["dinov2"])
    with pytest.raises(ValueError, match=message):
        validate_predictions(df, "vindr/dinov2")


def test_models_on_different_images_are_rejected(make_predictions):
    preds = make_predictions()
    df = preds["imagenet21k"]
    preds["imagenet21k"] = df.drop(index=df.index[df["split"] == "test"][0])
    with pytest.raises(ValueError, match="test images differ"):
        align_split(preds, "test", "vindr")
    preds["imagenet21k"] = df.replace({"im0100": "other"})
    with pytest.raises(ValueError, match="1 only in 'dinov2'.*'im0100'"):
        align_split(preds, "test", "vindr")


def test_models_with_different_labels_are_rejected(make_predictions):
    preds = make_predictions()
    df = preds["imagenet21k"].copy()
    row = df.index[(df["split"] == "test") & (df["label_effusion"] == 1)][0]
    df.loc[row, "label_effusion"] = 0.0
    preds["imagenet21k"] = df
    with pytest.raises(ValueError, match="same labels table"):
        align_split(preds, "test", "vindr")


def test_val_youden_needs_validation_rows(make_predictions):
    preds = {k: v[v["split"] == "test"] for k, v in make_predictions().items()}
    with pytest.raises(ValueError, match="no 'val' rows"):
        bootstrap_metrics(preds, source="vindr", n_resamples=5)
    points, _ = bootstrap_metrics(preds, source="vindr", n_resamples=5, threshold="test_youden_per_resample")
    assert points["auroc"].notna().all()
