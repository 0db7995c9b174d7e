"""Errors of the labels package: each names where the problem is and what to do."""

from __future__ import annotations


class OntologyError(ValueError):
    """labels.yml (or an override) is invalid; the message names the YAML key path."""

    def __init__(self, key_path: str, problem: str, *, origin: str = "labels.yml", fix: str | None = None) -> None:
        self.key_path = key_path
        super().__init__(f"{origin}: {key_path}: {problem}" + (f". {fix}" if fix else ""))


class LabelDataError(ValueError):
    """A manifest cannot be harmonized: names the source, the column and the first bad row."""


class LeakageError(ValueError):
    """A patient is where it must not be (two splits, or a held-out patient seen in pretraining)."""
