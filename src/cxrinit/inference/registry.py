"""The MLflow side of prediction: which tracking store, which registered version, its tags and its network.

Nothing here touches MLflow's process-wide tracking/registry URI: a ``MlflowClient`` is bound to the store,
the version's artifacts are fetched by their concrete location and loaded with ``mlflow.pytorch.load_model``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from cxrinit.imaging.transforms import Recipe

from .model import LoadedModel, ModelNotFound, ModelSpec

log = logging.getLogger(__name__)

DEFAULT_ALIAS = "best"
_URI = re.compile(r"models:/(?P<name>[^@/]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))?/?")


def resolve_tracking_uri(tracking_uri: str | None = None, project: Path | None = None) -> str:
    """``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else the ``mlflow.yaml`` of ``project`` (default: cwd)."""
    if tracking_uri:
        return tracking_uri
    if env := os.environ.get("MLFLOW_TRACKING_URI"):
        return env
    from cxrinit.tracking import CONFIG_FILE, load_config

    project = Path.cwd() if project is None else Path(project)
    if not (project / CONFIG_FILE).is_file():
        raise ModelNotFound(f"no tracking store named: pass --tracking-uri (tracking_uri=...), set "
                            f"MLFLOW_TRACKING_URI, or run from the project folder ({project / CONFIG_FILE} is missing)")
    return load_config(project).tracking_uri


def parse_model_ref(model: str, alias: str | None = None, version: int | str | None = None
                    ) -> tuple[str, str | None, str | None]:
    """``name`` | ``models:/name@alias`` | ``models:/name/3`` (+ ``alias``/``version``) -> (name, alias, version).

    A bare name with neither selects the ``best`` alias.
    """
    if alias is not None and version is not None:
        raise ValueError(f"give an alias ({alias!r}) or a version ({version!r}), not both")
    if version is not None and not str(version).isdigit():
        raise ValueError(f"version must be a positive integer, got {version!r}")
    if model.startswith("models:/"):
        m = _URI.fullmatch(model)
        if m is None or m["name"].startswith("m-"):
            raise ValueError(f"{model!r}: use a registered model name, models:/<name>@<alias> or "
                             "models:/<name>/<version> (logged-model ids models:/m-... carry no registry tags)")
        name, uri_alias, uri_version = m["name"], m["alias"], m["version"]
        if (uri_alias or uri_version) and (alias is not None or version is not None):
            raise ValueError(f"{model!r} already selects a version; drop alias/version or use the bare name")
        alias, version = alias or uri_alias, version or uri_version
    else:
        if not model or "/" in model or "@" in model:
            raise ValueError(f"model name {model!r} is not a registered-model name such as cxrinit-vindr-dinov2")
        name = model
    if alias is None and version is None:
        alias = DEFAULT_ALIAS
    return name, alias, (str(int(version)) if version is not None else None)


def describe_model(model: str, *, alias: str | None = None, version: int | str | None = None,
                   tracking_uri: str | None = None, recipe: Recipe | None = None,
                   store_size: int | None = None) -> ModelSpec:
    """The registered version's :class:`ModelSpec` from its tags (no weights are fetched)."""
    return _find(model, alias, version, tracking_uri, recipe, store_size)[0]


def load_model(model: str, *, alias: str | None = None, version: int | str | None = None,
               tracking_uri: str | None = None, device: str | torch.device = "auto",
               recipe: Recipe | None = None, store_size: int | None = None) -> LoadedModel:
    """Fetch a registered version and put its network on ``device`` (``auto``: CUDA when available)."""
    import mlflow

    from cxrinit.training.distributed import resolve_device

    spec, client, uri = _find(model, alias, version, tracking_uri, recipe, store_size)
    dev = resolve_device(device)
    from cxrinit.tracking.portable import absolute_artifact_uri

    location = absolute_artifact_uri(client.get_model_version_download_uri(spec.name, spec.version), uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=uri))
    except mlflow.exceptions.MlflowException as err:
        raise ModelNotFound(f"{spec.uri} (version {spec.version}) is registered in {uri}, but its files are not at "
                            f"{location}: {err.message}. A project copied without its artifacts folder (mlflow.yaml: "
                            "artifact_location) needs it copied too") from None
    # Loaded through MLflow first: for pt2 it also checks the archive holds no pickled code.
    module = mlflow.pytorch.load_model(str(local))
    exported = _exported_file(local)
    if exported is not None:
        if dev.type != "cpu":
            module = exported_on(exported, dev)
    else:  # a pickled nn.Module (registered outside cxrinit)
        module = module.to(dev).eval()
    log.info("model %s version %s (%s) on %s: %d findings, input %s, store %d px", spec.name, spec.version, spec.uri,
             dev, len(spec.findings), spec.contract.to_dict(), spec.store_size)
    return LoadedModel(spec, module, dev)


def exported_on(path: Path, device: torch.device) -> torch.nn.Module:
    """The ``torch.export`` archive at ``path`` as a module on ``device``.

    An exported graph is pinned to the device it was traced on (CPU in ``register_model``); this pass rewrites
    its weights and the device arguments inside the graph, which ``Module.to`` cannot.
    """
    from torch.export.passes import move_to_device_pass

    return move_to_device_pass(torch.export.load(str(path)), device).module()


def _exported_file(local: Path) -> Path | None:
    from mlflow.models import Model

    data = Model.load(str(local)).flavors.get("pytorch", {}).get("model_data", "data")
    path = local / data / "model.pt2"
    return path if path.is_file() else None


def _find(model: str, alias: str | None, version: int | str | None, tracking_uri: str | None,
          recipe: Recipe | None, store_size: int | None) -> tuple[ModelSpec, Any, str]:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name, alias, version = parse_model_ref(model, alias, version)
    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        # MLflow would create an empty database there and then find nothing in it
        demo = Path("data/demo/mlflow.db")
        also = (f" (the demo's models are in sqlite:///{demo.as_posix()}: --tracking-uri sqlite:///{demo.as_posix()})"
                if demo.is_file() else "")
        raise ModelNotFound(f"tracking store {uri} does not exist; point --tracking-uri at the project's mlflow.db"
                            + also)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        registered = client.get_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        names = sorted(m.name for m in client.search_registered_models(max_results=200))
        raise ModelNotFound(f"no registered model {name!r} in {uri}; registered models: "
                            f"{', '.join(names[:30]) or 'none'}{' ...' if len(names) > 30 else ''}") from None
    versions = sorted((int(v.version) for v in client.search_model_versions(f"name='{name}'")))
    if alias is not None:
        aliases = dict(registered.aliases or {})
        if alias not in aliases:
            held = ", ".join(f"{a} -> version {v}" for a, v in sorted(aliases.items())) or "none"
            raise ModelNotFound(f"model {name!r} has no alias {alias!r} (aliases: {held}; versions: {versions}); "
                                "pick --version N or another --alias")
        mv = client.get_model_version_by_alias(name, alias)
        ref = f"models:/{name}@{alias}"
    else:
        if int(version) not in versions:
            raise ModelNotFound(f"model {name!r} has no version {version} (versions: {versions})")
        mv = client.get_model_version(name, version)
        ref = f"models:/{name}/{version}"
    spec = ModelSpec.from_tags(name, str(mv.version), ref, dict(mv.tags or {}), recipe=recipe, store_size=store_size)
    return spec, client, uri
