"""Label harmonization: the ontology (labels.yml), per-source policies, patient-wise splits with
leakage checks, and label reports. Plain functions on pandas DataFrames (no Kedro, no MLflow)."""

from __future__ import annotations

from .errors import LabelDataError, LeakageError, OntologyError
from .harmonize import HarmonizeResult, harmonize_labels
from .ontology import Feed, Ontology, SourceSpec, load_ontology, ontology_from_dict
from .reports import drop_report, label_report, prevalence_heatmap
from .splits import check_patient_disjoint, check_pretraining_leakage, make_splits, split_summary

__all__ = [
    "Feed", "HarmonizeResult", "LabelDataError", "LeakageError", "Ontology", "OntologyError", "SourceSpec",
    "check_patient_disjoint", "check_pretraining_leakage", "drop_report", "harmonize_labels", "label_report",
    "load_ontology", "make_splits", "ontology_from_dict", "prevalence_heatmap", "split_summary",
]
