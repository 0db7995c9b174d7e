"""Label harmonization: the ontology (labels.yml), per-source policies, patient-wise splits with
leakage checks, and label reports. Plain functions on pandas DataFrames (no Kedro, no MLflow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrinit._lazy import lazy_exports

_EXPORTS = {
    "LabelDataError": "errors",
    "LeakageError": "errors",
    "OntologyError": "errors",
    "HarmonizeResult": "harmonize",
    "harmonize_labels": "harmonize",
    "Feed": "ontology",
    "Ontology": "ontology",
    "SourceSpec": "ontology",
    "load_ontology": "ontology",
    "ontology_from_dict": "ontology",
    "drop_report": "reports",
    "label_report": "reports",
    "prevalence_heatmap": "reports",
    "check_patient_disjoint": "splits",
    "check_pretraining_leakage": "splits",
    "make_splits": "splits",
    "split_summary": "splits",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .errors import LabelDataError, LeakageError, OntologyError
    from .harmonize import HarmonizeResult, harmonize_labels
    from .ontology import Feed, Ontology, SourceSpec, load_ontology, ontology_from_dict
    from .reports import drop_report, label_report, prevalence_heatmap
    from .splits import check_patient_disjoint, check_pretraining_leakage, make_splits, split_summary
