"""The binarizers and filters of cxrinit.labels.policies, on hand-checked values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxrinit.labels.policies import (binarize_binary, binarize_chexpert, binarize_grades, binarize_votes,
                                     match_terms, union, view_keep)

N = np.nan
CHEXPERT = np.array([1.0, 0.0, -1.0, N])


@pytest.mark.parametrize(("uncertain", "blank", "expected"), [
    ("zeros", "negative", [1, 0, 0, 0]),
    ("ones", "negative", [1, 0, 1, 0]),
    ("ignore", "negative", [1, 0, N, 0]),
    ("zeros", "ignore", [1, 0, 0, N]),
    ("ones", "ignore", [1, 0, 1, N]),
    ("ignore", "ignore", [1, 0, N, N]),
])
def test_chexpert_uncertain_and_blank(uncertain: str, blank: str, expected: list[float]) -> None:
    np.testing.assert_array_equal(binarize_chexpert(CHEXPERT, uncertain=uncertain, blank=blank), expected)


def test_votes_rules_and_consensus() -> None:
    votes = np.array([0, 1, 2, 3, 0, 1])
    n = np.array([3, 3, 3, 3, 1, 1])
    consensus = np.array([False, False, False, False, True, True])
    np.testing.assert_array_equal(binarize_votes(votes, n, consensus, readers="majority"), [0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(binarize_votes(votes, n, consensus, readers="any"), [0, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(binarize_votes(votes, n, consensus, readers="all"), [0, 0, 0, 1, 0, 1])


def test_grades_threshold_study_and_ungraded() -> None:
    grades = np.array([0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(binarize_grades(grades, rule="threshold", threshold=3, ungraded="ignore"),
                                  [N, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(binarize_grades(grades, rule="threshold", threshold=4, ungraded="negative"),
                                  [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(binarize_grades(grades, rule="study", threshold=3, ungraded="negative"),
                                  [0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(binarize_grades(grades, rule="study", threshold=3, ungraded="ignore"),
                                  [N, 0, 0, 1, 1, 0])


def test_binary_blank() -> None:
    np.testing.assert_array_equal(binarize_binary(np.array([1.0, 0.0, N]), blank="negative"), [1, 0, 0])
    np.testing.assert_array_equal(binarize_binary(np.array([1.0, 0.0, N]), blank="ignore"), [1, 0, N])


def test_union_is_three_valued_or() -> None:
    a = np.array([1, 1, 1, 0, 0, N, N, 0, N])
    b = np.array([1, 0, N, 1, 0, 1, N, N, 0])
    np.testing.assert_array_equal(union([a, b]), [1, 1, 1, 1, 0, 1, N, N, N])
    np.testing.assert_array_equal(union([a]), a)


def test_match_terms_exact_vs_substring() -> None:
    terms = pd.Series(["subcutaneous emphysema|soft tissue mass", "Emphysema|nodule", pd.NA, "", "hiatal hernia"],
                      dtype="str")
    patterns = {"emphysema": ["emphysema"], "nodule_mass": ["nodule", "mass"], "hernia": ["hernia"]}
    exact = match_terms(terms, patterns, substring=False)
    np.testing.assert_array_equal(exact["emphysema"], [0, 1, N, 0, 0])
    np.testing.assert_array_equal(exact["nodule_mass"], [0, 1, N, 0, 0])
    np.testing.assert_array_equal(exact["hernia"], [0, 0, N, 0, 0])
    sub = match_terms(terms, patterns, substring=True)
    np.testing.assert_array_equal(sub["emphysema"], [1, 1, N, 0, 0])
    np.testing.assert_array_equal(sub["nodule_mass"], [1, 1, N, 0, 0])
    np.testing.assert_array_equal(sub["hernia"], [0, 0, N, 0, 1])


def test_view_keep_canonical_and_native_globs() -> None:
    view = pd.Series(["AP", "PA", "LATERAL", "OTHER", "OTHER"], dtype="str")
    native = pd.Series(["Frontal|AP", "Frontal|PA", "Lateral", "Frontal", pd.NA], dtype="str")
    assert view_keep(view, native, views=None, views_native=None).tolist() == [True] * 5
    assert view_keep(view, native, views=["PA", "AP"], views_native=None).tolist() == [True, True, False, False, False]
    assert view_keep(view, native, views=None, views_native=["Frontal", "Frontal|*"]).tolist() == \
        [True, True, False, True, False]
    assert view_keep(view, native, views=["PA"], views_native=["Frontal|*"]).tolist() == \
        [False, True, False, False, False]
