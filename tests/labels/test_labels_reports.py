"""Label reports: hand-checked counts, drops by reason, and the prevalence heatmap renders."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from cxrinit.labels import Ontology, drop_report, harmonize_labels, label_report, prevalence_heatmap

from labelsdata import N, manifest


def _labels() -> tuple[pd.DataFrame, pd.DataFrame]:
    labels = pd.DataFrame({"image_id": ["a", "b", "c", "d", "e"], "cardiomegaly": [1, 0, 0, 1, N],
                           "fracture": [N, N, N, N, N]})
    splits = pd.DataFrame({"image_id": ["a", "b", "c", "d", "x"], "patient_id": ["1", "1", "2", "3", "4"],
                           "split": ["train", "train", "train", "test", "test"]})
    return labels, splits


def test_label_report_counts() -> None:
    labels, splits = _labels()
    report = label_report("nih", labels, splits)
    card = report[report["finding"] == "cardiomegaly"].set_index("split")
    assert card.loc["train", ["images", "patients", "positives", "negatives", "masked"]].tolist() == [3, 2, 1, 2, 0]
    assert card.loc["train", "prevalence"] == 1 / 3
    assert card.loc["val", ["images", "positives", "negatives", "masked"]].tolist() == [0, 0, 0, 0]
    assert card.loc["test", ["images", "patients", "positives", "negatives"]].tolist() == [1, 1, 1, 0]
    assert card.loc["unassigned", ["images", "masked"]].tolist() == [1, 1]  # e has labels but no split
    assert card.loc["all", ["images", "patients", "positives", "negatives", "masked"]].tolist() == [5, 3, 2, 2, 1]
    fracture = report[(report["finding"] == "fracture") & (report["split"] == "all")].iloc[0]
    assert fracture["masked"] == 5 and np.isnan(fracture["prevalence"])


def test_drop_report_and_heatmap(ontology: Ontology) -> None:
    m = manifest("padchest", [{"image_id": "a", "view_native": "PA"}, {"image_id": "b", "view_native": "L"},
                              {"image_id": "c", "view_native": "PA"}])
    m["terms"] = pd.Series(["normal", "normal", pd.NA], dtype="str")
    result = harmonize_labels(m, ontology, "padchest", label_set="common")
    drops = drop_report({"padchest": result})
    assert drops.to_dict("records") == [
        {"source": "padchest", "reason": "view_filter", "images": 1},
        {"source": "padchest", "reason": "missing_terms", "images": 1},
        {"source": "padchest", "reason": "kept", "images": 1}]
    labels, splits = _labels()
    report = pd.concat([label_report("padchest", result.labels), label_report("nih", labels, splits)])
    fig = prevalence_heatmap(report)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["padchest (n=1)", "nih (n=5)"]  # every row its n
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["no_finding", "cardiomegaly"]
    texts = [t.get_text() for t in ax.texts]
    assert "100.0" in texts and "n/a" in texts  # padchest no_finding; nih no_finding not in its labels
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
