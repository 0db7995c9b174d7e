"""Sigmoid probabilities for image files from a registered model, with a per-file report of what was not predicted."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cxrinit.imaging.reasons import Status
from cxrinit.imaging.transforms import Recipe
from cxrinit.training.loader import InputPipeline

from .files import InputFile, Skipped, expand_inputs
from .model import LoadedModel, ModelTagsError
from .preprocess import decode_files, to_model_input

log = logging.getLogger(__name__)

REPORT_COLUMNS = ["file", "image_id", "status", "detail"]


def predict_files(model: str | LoadedModel, files: Iterable[str | os.PathLike[str]], *, alias: str | None = None,
                  version: int | str | None = None, tracking_uri: str | None = None, batch_size: int = 32,
                  device: str | torch.device = "auto", workers: int = 1, recipe: Recipe | None = None,
                  store_size: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predict image ``files`` (folders: their DICOM/PNG/JPEG files, recursively) with a registered model.

    ``model``: a registered name (``cxrinit-vindr-dinov2``, alias ``best`` unless ``alias``/``version``),
    ``models:/<name>@<alias>``, ``models:/<name>/<version>``, a trained cell's folder or card
    (``data/06_models/vindr/dinov2``: no registry needed, see :mod:`cxrinit.inference.cells`), or an
    already :class:`LoadedModel`.
    Returns (probabilities: ``file, image_id, prob_<finding>...`` for every decodable file, in input order;
    report: ``file, image_id, status, detail`` for every input, status ``ok`` or the quarantine reason).
    ``recipe``/``store_size`` only fill in for versions registered without the ``preprocessing`` tag.
    """
    if isinstance(model, LoadedModel):
        given = {k: v for k, v in (("alias", alias), ("version", version), ("tracking_uri", tracking_uri),
                                   ("recipe", recipe), ("store_size", store_size)) if v is not None}
        if given:
            raise ValueError(f"{sorted(given)} select or describe a registered model; the model passed is already "
                             f"loaded ({model.spec.uri}, version {model.spec.version})")
    else:
        from .cells import is_cell, load_cell
        from .registry import load_model

        if is_cell(model):
            given = [k for k, v in (("alias", alias), ("version", version), ("tracking_uri", tracking_uri),
                                    ("recipe", recipe), ("store_size", store_size)) if v is not None]
            if given:
                raise ValueError(f"{given} select a registered model; {model} is a cell folder, which records "
                                 "its own preprocessing")
            model = load_cell(model, device=device)
        else:
            model = load_model(model, alias=alias, version=version, tracking_uri=tracking_uri, device=device,
                               recipe=recipe, store_size=store_size)
    inputs, skipped = expand_inputs(files)
    return predict_inputs(model, inputs, skipped, batch_size=batch_size, workers=workers)


def predict_inputs(model: LoadedModel, inputs: Sequence[InputFile], skipped: Sequence[Skipped] = (), *,
                   batch_size: int = 32, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`predict_files` for files already expanded (see :func:`cxrinit.inference.files.expand_inputs`)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    spec, device = model.spec, model.device
    if spec.synthetic:
        log.warning("%s (version %s) was trained on the synthetic demo data: its probabilities say nothing about real "
                    "radiographs; use a model trained with `kedro run` on real data", spec.uri, spec.version)
    n, size = len(inputs), spec.store_size
    probs = np.full((n, len(spec.findings)), np.nan, np.float32)
    status = np.full(n, Status.DECODE_ERROR.value, dtype=object)
    detail = np.full(n, "", dtype=object)
    pipeline = InputPipeline(spec.contract, device)
    pending: list[tuple[int, np.ndarray]] = []
    model_s = 0.0

    def flush() -> None:
        nonlocal model_s
        if not pending:
            return
        t = time.perf_counter()
        rows = np.array([i for i, _ in pending])
        x = to_model_input(np.stack([img for _, img in pending]), spec.contract, device, pipeline)
        with torch.no_grad():
            logits = model.module(x)
        if logits.ndim != 2 or logits.shape[1] != len(spec.findings):
            raise ModelTagsError(f"{spec.uri}: the network outputs {tuple(logits.shape)} for {len(rows)} images, "
                                 f"but its 'findings' tag lists {len(spec.findings)} findings")
        probs[rows] = torch.sigmoid(logits.float()).cpu().numpy()
        pending.clear()
        model_s += time.perf_counter() - t

    start = time.perf_counter()
    label = spec.name if spec.version == "cell" else f"{spec.name} v{spec.version}"
    with tqdm(total=n, desc=f"predict {label}", unit="img", disable=None) as bar:
        for i, result in decode_files([f.real for f in inputs], spec.recipe, size, workers):
            status[i], detail[i] = result.status.value, result.detail
            if result.status is Status.OK:
                pending.append((i, result.images[size]))
                if len(pending) >= batch_size:
                    flush()
            bar.update(1)
        flush()
    seconds = time.perf_counter() - start
    ok = status == Status.OK.value
    table = pd.DataFrame({"file": [f.file for f in inputs], "image_id": [f.image_id for f in inputs]})
    for j, finding in enumerate(spec.findings):
        table[f"prob_{finding}"] = probs[:, j].astype(np.float64)
    table = table[ok].reset_index(drop=True)
    report = pd.DataFrame({
        "file": [f.file for f in inputs] + [s.file for s in skipped],
        "image_id": [f.image_id for f in inputs] + [s.image_id for s in skipped],
        "status": [str(s) for s in status] + [s.status.value for s in skipped],
        "detail": [str(d) for d in detail] + [s.detail for s in skipped],
    }, columns=REPORT_COLUMNS)
    bad = Counter(report["status"][report["status"] != Status.OK.value])
    log.info("%s: %d of %d files predicted in %.1f s (%.1f images/s; network %.1f s on %s); not predicted: %s",
             label, int(ok.sum()), n, seconds, n / max(seconds, 1e-9), model_s, device,
             dict(sorted(bad.items())) or "none")
    return table, report
