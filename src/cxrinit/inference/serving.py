"""Client side of ``mlflow models serve``: the served model takes preprocessed tensors, so files are prepared here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from cxrinit.imaging.reasons import Status

from .files import expand_inputs
from .model import LoadedModel, ModelSpec
from .preprocess import decode_files, to_model_input
from .predict import REPORT_COLUMNS


def preprocess_for_serving(files: Iterable[str | os.PathLike[str]], model: str | ModelSpec | LoadedModel, *,
                           alias: str | None = None, version: int | str | None = None,
                           tracking_uri: str | None = None, workers: int = 1) -> tuple[dict[str, Any], pd.DataFrame]:
    """The JSON body to POST to ``/invocations`` of the served ``model``, and the per-file report.

    The body is ``{"inputs": N x C x S x S floats}``: each decodable file through the training transform
    (store recipe at the store size, then the input pipeline). Row ``k`` of the inputs, and so of the
    server's ``predictions``, is the ``k``-th ``ok`` row of the report. ``model`` as in ``predict_files``
    (a name or URI reads the version's tags only; no weights are fetched).
    """
    if isinstance(model, LoadedModel):
        spec = model.spec
    elif isinstance(model, ModelSpec):
        spec = model
    else:
        from .registry import describe_model

        spec = describe_model(model, alias=alias, version=version, tracking_uri=tracking_uri)
    inputs, skipped = expand_inputs(files)
    squares: dict[int, np.ndarray] = {}
    status = [Status.DECODE_ERROR.value] * len(inputs)
    detail = [""] * len(inputs)
    for i, result in decode_files([f.real for f in inputs], spec.recipe, spec.store_size, workers):
        status[i], detail[i] = result.status.value, result.detail
        if result.status is Status.OK:
            squares[i] = result.images[spec.store_size]
    size, channels = spec.contract.size, spec.contract.channels
    if squares:
        pixels = np.stack([squares[i] for i in sorted(squares)])
        tensor = to_model_input(pixels, spec.contract, "cpu").numpy()
    else:
        tensor = np.zeros((0, channels, size, size), np.float32)
    report = pd.DataFrame({
        "file": [f.file for f in inputs] + [s.file for s in skipped],
        "image_id": [f.image_id for f in inputs] + [s.image_id for s in skipped],
        "status": status + [s.status.value for s in skipped],
        "detail": detail + [s.detail for s in skipped],
    }, columns=REPORT_COLUMNS)
    return {"inputs": tensor.tolist()}, report


def probabilities_from_response(response: Mapping[str, Any] | str | bytes, findings: Sequence[str] | ModelSpec
                                ) -> pd.DataFrame:
    """The server's ``{"predictions": N x C logits}`` -> ``prob_<finding>`` columns (sigmoid), one row per input."""
    findings = findings.findings if isinstance(findings, ModelSpec) else list(findings)
    body = json.loads(response) if isinstance(response, str | bytes) else response
    if "predictions" not in body:
        raise ValueError(f"serving response has no 'predictions' key (keys: {sorted(body)}); is it an error reply?")
    logits = np.asarray(body["predictions"], dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] != len(findings):
        raise ValueError(f"serving response holds logits of shape {logits.shape}; expected (N, {len(findings)})")
    return pd.DataFrame(expit(logits), columns=[f"prob_{f}" for f in findings])
