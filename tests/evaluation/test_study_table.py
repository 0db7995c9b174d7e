"""The study table cannot mislead: comparison sets, n everywhere, n/a explained, skipped arms, provenance."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from cxrinit.evaluation import comparison_sets, evaluate_study
from cxrinit.evaluation.study import arms_table
from cxrinit.provenance import Provenance
from cxrinit.tracking import takes_alias

N_VAL, N_TEST = 60, 120


def _arm(labels: dict[str, np.ndarray], strength: dict[str, float], seed: int) -> pd.DataFrame:
    """Predictions whose AUROC per finding grows with ``strength`` (0: chance, negative: worse than chance)."""
    rng = np.random.default_rng(seed)
    n = N_VAL + N_TEST
    table = {"image_id": [f"im{i:04d}" for i in range(n)], "split": ["val"] * N_VAL + ["test"] * N_TEST,
             "patient_id": [f"p{i // 2}" for i in range(n)]}
    for f, s in strength.items():
        table[f"prob_{f}"] = 1 / (1 + np.exp(-(rng.normal(size=n) + s * (labels[f] - 0.5))))
        table[f"label_{f}"] = labels[f]
    return pd.DataFrame(table)


def _labels(findings: str = "abcd", seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f: (rng.random(N_VAL + N_TEST) < 0.4).astype(float) for f in findings}


@pytest.fixture
def disagreeing() -> dict[str, dict[str, pd.DataFrame]]:
    """random: excellent on a, b, worse than chance on c, d; mimic (trained on a, b only): fair on a, b.
    Over each arm's own findings mimic is ahead; over the findings both have, random is far ahead."""
    labels = _labels()
    return {"uka": {"random": _arm(labels, {"a": 4.0, "b": 4.0, "c": -2.0, "d": -2.0}, 1),
                    "mimic": _arm(labels, {"a": 0.8, "b": 0.8}, 2)}}


def test_a_mean_beside_a_p_value_rests_on_the_p_values_findings(disagreeing) -> None:
    out = evaluate_study(disagreeing, n_resamples=200, seed=0)
    points = out["points"].set_index(["init", "finding"])["auroc"]
    own = {"random": points["random", "mean"], "mimic": points["mimic", "mean"]}
    shared = {i: np.mean([points[i, f] for f in "ab"]) for i in own}
    assert own["mimic"] > own["random"] and shared["random"] > shared["mimic"]  # the trap is real

    table = out["study_table"].set_index(["findings", "init"])
    assert table.loc[("a;b", "random"), "auroc_point"] == pytest.approx(shared["random"])
    assert table.loc[("a;b", "mimic"), "auroc_point"] == pytest.approx(shared["mimic"])
    assert table.loc[("a;b", "random"), "p_vs_mimic"] < 0.05  # beside it, the p-value says the same
    assert table.loc[("a;b", "mimic"), "p_vs_random"] > 0.95
    assert np.isnan(table.loc[("a;b;c;d", "random"), "p_vs_mimic"])  # random's own mean carries no p-value
    # every mean beside a p-value equals the comparison's own numbers
    comp = out["comparisons"].query("finding == 'mean'").set_index(["init_a", "init_b"])
    for (a, b), c in comp.iterrows():
        assert table.loc[(c["findings"], a), "auroc_point"] == pytest.approx(c["auroc_a"])
        assert table.loc[(c["findings"], b), "auroc_point"] == pytest.approx(c["auroc_b"])
    md = out["markdown"]
    section = md[md.index("### Over 2 finding(s): a, b"):]
    section = section[:section.index("\n### ", 5)]
    row = {line.split(" | ")[0].strip("| "): line for line in section.splitlines() if line.startswith("| ")}
    mean = {i: float(row[i].split(" | ")[1].split(" ±")[0]) for i in ("random", "mimic")}
    assert mean["random"] > mean["mimic"]
    assert "random's own 4 finding(s)" in md and "Not compared" in md


def test_comparison_sets_cover_every_pair_and_every_arm(disagreeing) -> None:
    labels = _labels("abc")
    preds = {"random": _arm(labels, dict.fromkeys("abc", 1.0), 1), "dinov2": _arm(labels, dict.fromkeys("abc", 2.0), 2),
             "mimic": _arm(labels, dict.fromkeys("ab", 1.0), 3)}
    out = evaluate_study({"nih": preds}, n_resamples=20, seed=0)
    sets = comparison_sets(out["points"])
    assert [(s.findings, s.inits, s.pairs) for s in sets] == [
        (("a", "b", "c"), ("random", "dinov2"), (("random", "dinov2"),)),
        (("a", "b"), ("random", "dinov2", "mimic"), (("random", "mimic"), ("dinov2", "mimic")))]


def test_every_number_carries_its_n_and_every_na_is_explained(caplog) -> None:
    labels = _labels("abc")
    labels["c"][N_VAL:] = 0.0  # one class in the test split: AUROC undefined
    labels["b"][:N_VAL] = 1.0  # one class in the validation split: no threshold
    preds = {"random": _arm(labels, dict.fromkeys("abc", 1.0), 1), "mimic": _arm(labels, dict.fromkeys("abc", 2.0), 2)}
    with caplog.at_level(logging.WARNING, logger="cxrinit.evaluation"):
        out = evaluate_study({"vindr": preds}, n_resamples=40, seed=0)
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("cxrinit.evaluation")]
    assert len(warnings) == 2, warnings  # one per source and kind, not one per (init, finding)
    md = out["markdown"]
    assert f"## vindr: {N_TEST} test images of {N_TEST // 2} patients" in md
    assert "over 40 resamples" in md
    assert f"| a | random | {int(labels['a'][N_VAL:].sum())} / {int((labels['a'][N_VAL:] == 0).sum())} |" in md
    assert "n/a AUROC: one class only in the test split" in md and f"c (0 pos / {N_TEST} neg)" in md
    assert "one class only in the validation split" in md and "b (random, mimic)" in md
    table = out["study_table"]
    assert (table["n_images"] == N_TEST).all() and (table["n_patients"] == N_TEST // 2).all()
    assert (table["n_resamples"] == 40).all()
    assert {"n_pos", "n_neg"} <= set(out["finding_table"].columns)


def test_skipped_arms_have_a_row_that_says_why() -> None:
    labels = _labels("ab")
    preds = {"random": _arm(labels, dict.fromkeys("ab", 1.0), 1), "mimic": _arm(labels, dict.fromkeys("ab", 2.0), 2)}
    out = evaluate_study({"vindr": preds}, n_resamples=10, seed=0)
    why = "weights for dinov2 are not on this machine: set finetuning.registry.dinov2.file"
    cards = {"vindr": {"random": {"skipped": False}, "mimic": {"skipped": False},
                       "dinov2": {"skipped": True, "reason": why}}}
    arms = arms_table(out["points"], cards=cards)
    assert list(arms["status"]) == ["trained", "trained", "skipped"]
    from cxrinit.config import EvaluationSettings
    from cxrinit.evaluation import SourceResult, summarize_study

    results = {"vindr": SourceResult(out["points"], out["replicates"], out["comparisons"].drop(
        columns=[c for c in out["comparisons"].columns if c.endswith("_adj") or c == "adjustment"]))}
    again = summarize_study(results, EvaluationSettings(n_resamples=10), arms=arms)
    row = again["study_table"].query("init == 'dinov2'")
    assert list(row["status"]) == ["skipped"] and list(row["note"]) == [why]
    assert f"| dinov2 | {why} |" in again["markdown"]
    # the notebook path: an init without test predictions is listed too
    empty = preds["random"].iloc[0:0]
    out = evaluate_study({"vindr": {**preds, "imagenet21k": empty}}, n_resamples=10, seed=0)
    assert out["study_table"].query("init == 'imagenet21k'")["status"].tolist() == ["skipped"]


def test_provenance_is_on_the_tables_and_every_figure(make_predictions) -> None:
    prov = Provenance(environment="demo", git_commit="0123456789abcdef-dirty", synthetic=True)
    out = evaluate_study({"vindr": make_predictions(n_test=40)}, n_resamples=10, seed=0, provenance=prov)
    assert "**SYNTHETIC DEMO DATA (not radiographs) · Kedro environment demo · commit 0123456789-dirty**" in \
        out["markdown"]
    for name in ("study_table", "finding_table"):
        t = out[name]
        assert (t["environment"] == "demo").all() and t["synthetic_data"].all()
        assert (t["git_commit"] == prov.git_commit).all()
    for name, fig in out["figures"].items():
        texts = [t.get_text() for t in fig.texts]
        assert any(prov.line() in t for t in texts), name


def test_a_demo_model_never_takes_the_alias_from_a_real_one() -> None:
    real = {"selection_metric": "val_auroc_mean", "val_auroc_mean": "0.71", **Provenance(synthetic=False).tags()}
    demo = {"selection_metric": "val_auroc_mean", "val_auroc_mean": "0.99", **Provenance(synthetic=True).tags()}
    assert not takes_alias(demo, real)
    assert takes_alias({**real, "val_auroc_mean": "0.5"}, demo)
    assert not takes_alias(demo, {"selection_metric": "val_auroc_mean", "val_auroc_mean": "0.5"})  # untagged: real
