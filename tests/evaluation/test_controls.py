"""Controls are judged on the study's own adjusted mean-AUROC comparisons, in either orientation."""

from __future__ import annotations

import pandas as pd
import pytest

from cxrinit.config.evaluation import Control
from cxrinit.evaluation.controls import check_controls, controls_markdown, verdicts


def comparisons() -> pd.DataFrame:
    rows = []
    for source, p_pos, p_neg in (("a", 0.001, 0.60), ("b", 0.020, 0.30), ("c", 0.200, 0.01)):
        # mimic vs random stored as (random, mimic): the control must read p_less_adj
        rows.append({"source": source, "finding": "mean", "init_a": "random", "init_b": "mimic", "n_findings": 3,
                     "auroc_a": 0.6, "auroc_b": 0.9, "p_greater_adj": 1 - p_pos, "p_less_adj": p_pos,
                     "p_two_sided_adj": 2 * p_pos})
        rows.append({"source": source, "finding": "mean", "init_a": "random", "init_b": "random_b", "n_findings": 4,
                     "auroc_a": 0.6, "auroc_b": 0.61, "p_greater_adj": 0.5, "p_less_adj": 0.5,
                     "p_two_sided_adj": p_neg})
        rows.append({"source": source, "finding": "x", "init_a": "random", "init_b": "mimic", "n_findings": 1,
                     "auroc_a": 0.1, "auroc_b": 0.9, "p_greater_adj": 1.0, "p_less_adj": 0.0, "p_two_sided_adj": 0.0})
    return pd.DataFrame(rows)


def test_positive_and_negative_controls_are_judged_per_source() -> None:
    positive = Control(kind="positive", arms=("mimic", "random"), min_sources=2)
    negative = Control(kind="negative", arms=("random", "random_b"))
    table = check_controls(comparisons(), [positive, negative])
    pos = table[table["kind"] == "positive"].set_index("source")
    assert pos["significant"].tolist() == [True, True, False]
    assert pos.loc["a", "auroc_a"] == 0.9 and pos.loc["a", "p_adj"] == 0.001  # mimic's AUROC, mimic-better p
    (_, holds_pos, why_pos), (_, holds_neg, why_neg) = verdicts(table, [positive, negative])
    assert holds_pos and "2 of 3 sources (a, b); required: 2" in why_pos
    assert not holds_neg and "differ with adjusted p < 0.05 on c" in why_neg
    text = controls_markdown(table, [positive, negative])
    assert "**positive: mimic better than random: holds**" in text and "**negative: random vs random_b: FAILS**" in text
    strict = Control(kind="positive", arms=("mimic", "random"), min_sources=3)
    assert not verdicts(check_controls(comparisons(), [strict]), [strict])[0][1]


def test_a_source_without_an_arm_is_not_compared_and_a_control_needs_two_arms() -> None:
    ssl = Control(kind="positive", arms=("ssl", "random"))
    table = check_controls(comparisons(), [ssl])
    assert (table["status"] == "not compared").all() and not verdicts(table, [ssl])[0][1]
    with pytest.raises(ValueError, match="two different arms"):
        Control(kind="negative", arms=("random", "random"))
