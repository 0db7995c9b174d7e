"""PadChest's ontology against the real release's 193 label terms: coverage, the study's substring traps, the docs."""

from __future__ import annotations

import copy

import numpy as np
import yaml

from cxrinit.labels import Ontology, harmonize_labels, ontology_from_dict
from cxrinit.labels.vocabulary import (coverage, reference_terms, render_docs, substring_catches, substring_misses,
                                       substring_table)

from conftest import LABELS_YML
from labelsdata import manifest

DOCS = LABELS_YML.parents[2] / "docs" / "labels.md"


def test_every_real_term_is_mapped_or_deliberately_unmapped(ontology: Ontology) -> None:
    terms = reference_terms("padchest")
    assert len(terms) == 193
    cov = coverage(ontology, "padchest", terms)
    assert cov.neither == [] and cov.unknown == []            # no gap, and no term the release never uses
    assert len(cov.mapped) + len(cov.unmapped) == 193
    for term in ("supra aortic elongation", "descendent aortic elongation", "ascendent aortic elongation"):
        assert cov.mapped[term] == ["aortic_elongation"]
    assert all(reason.strip() for reason in cov.unmapped.values())


def test_a_term_left_out_of_both_lists_is_found(ontology: Ontology) -> None:
    raw = copy.deepcopy(yaml.safe_load(LABELS_YML.read_text())["labels"])
    del raw["sources"]["padchest"]["unmapped"]["pseudonodule"]
    raw["sources"]["padchest"]["findings"]["hernia"] = {"terms": ["hernia", "hiatal hernia"], "substrings": ["hernia"]}
    cov = coverage(ontology_from_dict(raw), "padchest", reference_terms("padchest"))
    assert cov.neither == ["pseudonodule"] and cov.unknown == ["hernia"]  # 'hernia' alone is not a real term


def test_the_substring_traps_of_the_paper_preset_and_none_in_the_default(ontology: Ontology) -> None:
    terms = reference_terms("padchest")
    catches = substring_catches(ontology, "padchest", terms)
    assert catches["no_finding"] == ["abnormal foreign body"]
    assert "pseudonodule" in catches["nodule_mass"] and "subcutaneous emphysema" in catches["emphysema"]
    assert "empyema" in substring_misses(ontology, "padchest", terms)["pleural_effusion"]
    m = manifest("padchest", [{"image_id": "a", "view_native": "PA", "terms": "abnormal foreign body"},
                              {"image_id": "b", "view_native": "PA", "terms": "pseudonodule"},
                              {"image_id": "c", "view_native": "PA", "terms": "supra aortic elongation|normal"}])
    findings = ["no_finding", "nodule_mass", "aortic_elongation"]
    default = harmonize_labels(m, ontology, "padchest", label_set=findings).labels.set_index("image_id")
    paper = harmonize_labels(m, ontology, "padchest", preset="paper", label_set=findings).labels.set_index("image_id")
    assert default.loc["a"].tolist() == [0, 0, 0] and default.loc["b"].tolist() == [0, 0, 0]
    assert paper.loc["a", "no_finding"] == 1 and paper.loc["b", "nodule_mass"] == 1       # the traps, kept on purpose
    assert default.loc["c"].tolist() == [1, 0, 1]


def test_each_form_of_the_labels_cell_under_both_presets(ontology: Ontology) -> None:
    # the reader's terms for: a missing cell, [], [''], ['', 'nodule']
    m = manifest("padchest", [{"image_id": i, "view_native": "PA", "terms": t} for i, t in (
        ("missing", None), ("empty", ""), ("blank_term", ""), ("partial", "nodule"))])
    default = harmonize_labels(m, ontology, "padchest", label_set=["nodule_mass", "no_finding"])
    assert set(default.dropped["image_id"]) == {"missing", "empty", "blank_term"}
    assert set(default.dropped["reason"]) == {"missing_terms"}
    paper = harmonize_labels(m, ontology, "padchest", preset="paper", label_set=["nodule_mass", "no_finding"])
    labels = paper.labels.set_index("image_id")
    assert list(labels.index) == ["missing", "empty", "blank_term", "partial"]          # the study kept them...
    assert np.array_equal(labels.loc[["missing", "empty", "blank_term"]].to_numpy(), np.zeros((3, 2)))  # all 0
    assert labels.loc["partial"].tolist() == [1, 0]


def test_the_docs_table_is_computed_from_the_reference(ontology: Ontology) -> None:
    text = DOCS.read_text()
    table = substring_table(ontology, "padchest", reference_terms("padchest"))
    assert render_docs(text, table) == text, "run `python -m cxrinit.labels.vocabulary --write docs/labels.md`"
    assert "`abnormal foreign body` (unmapped)" in table and "`pseudonodule` (unmapped)" in table
