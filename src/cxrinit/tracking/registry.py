"""Registering trained models in the MLflow registry, and which version holds the ``best`` alias."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import TrackingConfig


def _auroc(tags: Mapping[str, str]) -> float | None:
    """The version's validation mean AUROC, when it was selected by it (older versions without a
    ``selection_metric`` tag are treated as having none: their score may have been an epoch count)."""
    if tags.get("selection_metric") != "val_auroc_mean":
        return None
    try:
        value = float(tags.get("val_auroc_mean", "nan"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def takes_alias(new: Mapping[str, str], holder: Mapping[str, str] | None) -> bool:
    """Whether a new version (``new`` tags) takes the alias from its ``holder`` (None: nobody holds it).

    A model trained on real data always takes it from one trained on the synthetic demo (tag
    ``provenance.synthetic_data``), never the reverse. Otherwise a validation mean AUROC beats none,
    and a higher one a lower one; a version without one (no validation split, or no finding with both
    classes there) takes it only from another without one.
    """
    if holder is None:
        return True
    synthetic = [tags.get("provenance.synthetic_data") == "true" for tags in (new, holder)]
    if synthetic[0] != synthetic[1]:  # a model of the synthetic demo never holds an alias over a real one
        return synthetic[1]
    new_auroc, held = _auroc(new), _auroc(holder)
    if new_auroc is None:
        return held is None
    return held is None or new_auroc > held


def register_model(config: TrackingConfig, model: Any, *, name: str, contract: Mapping[str, Any],
                   findings: list[str], selection: Mapping[str, Any], lineage: Mapping[str, str],
                   files: Mapping[str, str | Path] = (), preprocessing: Mapping[str, Any] | None = None,
                   tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Log ``model`` (mlflow.pytorch, pt2, with a signature) in the active run and register it as ``name``.

    The new version carries its input contract, label list, preprocessing (pixel-store recipe and
    resolution), lineage, model selection (``selection_metric``, ``selection_value`` and, when
    selected by it, ``val_auroc_mean``) and ``tags`` (e.g. the provenance) as tags. The alias
    ``registry.best_alias`` moves to it by
    :func:`takes_alias`. A registry that cannot be read raises; it is never taken for "no alias yet".
    """
    import mlflow
    import numpy as np
    import torch
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    alias = config.registry.get("best_alias", "best")
    size = int(contract["size"])
    # Batch of 2: the exported (pt2) graph keeps the batch dimension dynamic.
    example = np.random.default_rng(0).random((2, int(contract.get("channels", 3)), size, size), np.float32)
    model = model.to("cpu").eval()
    with torch.no_grad():
        output = model(torch.from_numpy(example)).numpy()
    for label, path in dict(files).items():
        mlflow.log_artifact(str(path), artifact_path=label)
    # pt2 (torch.export) loads without unpickling code, like our own weights_only checkpoints.
    # Requirements stated, not inferred: inference starts a subprocess that imports everything (seconds per model).
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}"]
    info = mlflow.pytorch.log_model(model, name="model", signature=infer_signature(example, output),
                                    input_example=example, serialization_format="pt2",
                                    pip_requirements=requirements, registered_model_name=name)
    client = MlflowClient()
    version = str(info.registered_model_version)
    value = selection.get("value")
    tags = {"input_contract": json.dumps(dict(contract)), "findings": json.dumps(list(findings)),
            "preprocessing": json.dumps(dict(preprocessing or {})),
            "selection_metric": str(selection["metric"]),
            "selection_value": "" if value is None else f"{float(value):.6f}",
            **{f"lineage.{k}": str(v) for k, v in lineage.items()}, **dict(tags or {})}
    if "weights" in dict(files):  # what `cxrinit-register` compares to register a pulled cell once
        tags["weights_sha256"] = file_sha256(dict(files)["weights"])
    if selection["metric"] == "val_auroc_mean" and value is not None:
        tags["val_auroc_mean"] = f"{float(value):.6f}"
    for key, tag in tags.items():
        client.set_model_version_tag(name, version, key, tag)
    holder_version = client.get_registered_model(name).aliases.get(alias)
    holder = None
    if holder_version is not None and str(holder_version) != version:
        holder = client.get_model_version(name, str(holder_version)).tags
    if takes_alias(tags, holder):
        client.set_registered_model_alias(name, alias, version)
    return {"name": name, "version": version, "run_id": mlflow.active_run().info.run_id, "alias": alias,
            "model_uri": info.model_uri}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex (the identity of a weights file)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["file_sha256", "register_model", "takes_alias"]
