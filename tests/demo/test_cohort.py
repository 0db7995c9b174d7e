"""Synthetic cohorts: severity weights change how visible findings are, never who has them."""

from __future__ import annotations

import pytest

from cxrinit.config import ConfigError, validate_parameters
from cxrinit.demo.cohort import DEFAULT_SEVERITY, check_severity, sample_cohort
from cxrinit.demo.tree import plan_source
from tests.config.test_settings import parameters, problems

ARGS = {"studies_per_patient": (1, 2), "images_per_study": (1, 2), "lateral_fraction": 0.3}


def _who_has_what(specs):
    return [(s.patient_index, s.view, s.image_seed, tuple((f.name, f.side) for f in s.findings)) for s in specs]


def test_severity_weights_change_severities_only() -> None:
    default = sample_cohort(60, seed=5, **ARGS)
    same = sample_cohort(60, seed=5, severity=DEFAULT_SEVERITY, **ARGS)
    gross = sample_cohort(60, seed=5, severity=[0, 0, 0, 0, 1], **ARGS)
    visible = sample_cohort(60, seed=5, severity=[0, 0, 0.35, 0.4, 0.25], **ARGS)
    assert same == default  # the default weights are the phantom's, draw for draw
    assert _who_has_what(gross) == _who_has_what(default) == _who_has_what(visible)
    levels = [f.severity for s in gross for f in s.findings]
    assert levels and set(levels) == {5}
    assert min(f.severity for s in visible for f in s.findings) == 3
    assert min(f.severity for s in default for f in s.findings) == 1


@pytest.mark.parametrize("bad", [[0.5, 0.5], [0.2, 0.2, 0.2, 0.2, 0.3], [-0.1, 0.3, 0.3, 0.3, 0.2],
                                 [float("nan"), 0, 0, 0, 1]])
def test_bad_severity_weights_are_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"severity must be 5 probabilities >= 0 .* summing to 1"):
        check_severity(bad)
    with pytest.raises(ValueError, match="severity must be"):
        sample_cohort(3, seed=1, severity=bad)


def test_demo_settings_name_a_bad_severity_or_render_scale() -> None:
    runtime = {"demo": {"render_scale": 1.5, "sources": {"nih": {"n_patients": 4, "severity": [0, 0, 1, 0, 0.5]}}}}
    found = problems(parameters("demo", runtime), "demo", runtime)
    assert any(p.startswith("`demo.render_scale`") and "less than or equal to 1" in p for p in found), found
    assert any(p.startswith("`demo.sources.nih.severity`") and "summing to 1" in p for p in found), found
    with pytest.raises(ConfigError):
        validate_parameters(parameters("demo", {"demo": {"render_scale": 0}}))
    four = {"demo": {"sources": {"nih": {"n_patients": 4, "severity": [0, 0, 0.5, 0.5]}}}}
    (problem,) = problems(parameters("demo", four), "demo", four)
    assert problem.startswith("`demo.sources.nih.severity`") and "5 probabilities" in problem, problem


def test_a_render_scale_that_would_quarantine_every_film_is_refused_before_anything_runs() -> None:
    """NIH's films are 256 px: at 0.1 they would be 26 px, below ingestion.recipe.min_side (64)."""
    runtime = {"demo": {"render_scale": 0.1}}
    found = problems(parameters("demo", runtime), "demo", runtime)
    nih = [p for p in found if "nih's smallest films at 26 px" in p]
    assert nih and nih[0].startswith("`demo.render_scale`") and "use render_scale >= 0.25" in nih[0], found
    validate_parameters(parameters("demo", {"demo": {"render_scale": 0.25}}))  # the floor itself is fine


def test_render_scale_shrinks_films_not_the_dataset() -> None:
    cohort = {"n_patients": 12, "cohort_args": {"lateral_fraction": 0.0}}
    full = plan_source("vindr", cohort["n_patients"], cohort["cohort_args"], seed=3, n_broken=2, workers=1).plan
    small = plan_source("vindr", cohort["n_patients"], cohort["cohort_args"], seed=3, n_broken=2, workers=1,
                        scale=0.4).plan
    same = [c for c in full.columns if c not in ("height", "width", "pixel_spacing")]
    assert full[same].equals(small[same])  # ids, labels, splits, broken files: all the same
    ratio = small["height"] / full["height"]
    assert ratio.between(0.39, 0.41).all() and (small["width"] < full["width"]).all()
    # the same chest on a coarser grid: the physical field of view is kept
    fov = lambda plan: plan["height"] * plan["pixel_spacing"]  # noqa: E731
    assert ((fov(small) / fov(full)) - 1).abs().max() < 0.01
