"""``demo``: the synthetic datasets of the built-in demo (conf/demo/parameters_demo.yml)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from .base import Settings, unknown_value


class DemoSourceSettings(Settings):
    """The synthetic cohort of one demo source (:func:`cxrinit.demo.cohort.sample_cohort`).

    ``studies_per_patient`` and ``images_per_study`` are inclusive [low, high] ranges; the first film
    of a study is frontal (AP with probability ``ap_fraction``), later films are lateral with
    probability ``lateral_fraction``; ``prevalence`` overrides the phantom's default per finding;
    ``severity``: probabilities of severity 1 (subtle) .. 5 (gross) of every drawn finding (default
    the phantom's 0.1, 0.2, 0.3, 0.25, 0.15); it changes how visible findings are, not who has them.
    """

    n_patients: int = Field(ge=1)
    studies_per_patient: tuple[int, int] = (1, 3)
    images_per_study: tuple[int, int] = (1, 2)
    lateral_fraction: float = Field(default=0.25, ge=0.0, le=1.0)
    ap_fraction: float = Field(default=0.3, ge=0.0, le=1.0)
    prevalence: dict[str, float] | None = None
    severity: list[float] | None = None

    @field_validator("studies_per_patient", "images_per_study")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1]:
            raise ValueError(f"expected [low, high] with 1 <= low <= high, got {list(value)}")
        return value

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: list[float] | None) -> list[float] | None:
        from cxrinit.demo.cohort import check_severity

        return None if value is None else list(check_severity(value))

    def cohort_args(self) -> dict:
        """Keyword arguments of ``sample_cohort`` besides the patient count and seed."""
        return self.model_dump(exclude={"n_patients"})


class DemoSettings(Settings):
    """The demo: ``enabled`` only in the demo environment (it writes the synthetic raw roots).

    ``seed`` fixes every cohort and image; ``workers``: rendering processes; ``n_broken``: files per
    source broken on purpose (truncated, empty, wrong format, ...); ``render_scale``: the films' pixel
    size relative to each writer's native-like sizes (1.0; 0.4 renders ~6x fewer pixels; every film must
    stay at least ``ingestion.recipe.min_side``, checked before anything runs); ``sources``: the cohort of each synthetic dataset (the keys name demo
    writers).
    """

    enabled: bool = False
    seed: int = 20240214
    workers: int = Field(default=1, ge=1)
    n_broken: int = Field(default=4, ge=0)
    render_scale: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    sources: dict[str, DemoSourceSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _writers(self) -> DemoSettings:
        if self.enabled:
            from cxrinit.demo.writers import WRITERS

            for name in self.sources:
                if name not in WRITERS:
                    raise unknown_value(name, WRITERS, "demo source (demo.sources keys name demo writers)")
        return self


#: Why a demo run is refused outside the demo environment.
def demo_disabled_message(env: str | None) -> str:
    """The error of a demo run where ``demo.enabled`` is false (every environment but ``demo``)."""
    return (f"the demo pipeline writes the synthetic datasets into the raw roots and runs only in the demo "
            f"environment: `kedro run --env demo --pipelines demo` (demo.enabled is false in environment "
            f"{env or 'local'!r}, whose roots may hold real data)")


__all__ = ["DemoSettings", "DemoSourceSettings", "demo_disabled_message"]
