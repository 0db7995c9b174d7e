"""``build_model``: an initialization + a label set + an image size -> a ready timm model and its input contract."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from .contract import InputContract, Normalization
from .registry import InitSpec, init_spec
from .weights import WeightsUnavailable, convert_to_timm, fit_head, load_into, read_weights

log = logging.getLogger(__name__)

_DEFAULT_MEAN = (0.485, 0.456, 0.406)  # timm's default when an architecture names none
_DEFAULT_STD = (0.229, 0.224, 0.225)


def build_model(spec: InitSpec | Mapping[str, Any] | str, num_classes: int, img_size: int, *,
                labels: Sequence[str] | None = None, normalization: Normalization = "init",
                registry: Mapping[str, Any] | None = None, seed: int | None = None,
                registry_key: str = "finetuning.registry", **model_kwargs: Any) -> tuple[nn.Module, InputContract]:
    """Create the init's architecture with its weights, a ``num_classes`` head, at ``img_size``.

    ``labels`` (the target's findings, in head order) lets a checkpoint that carries its own label list
    (``mimic``) keep its classifier. ``normalization``: ``init`` applies the init's mean/std, ``paper``
    feeds [0, 1] gray-as-RGB unnormalized (the study). Raises ``WeightsUnavailable`` with instructions
    when the weights are not here (naming ``<registry_key>.<init>.file``, the setting that provides
    them where the caller reads its inits: ``finetuning.registry``, ``pretraining.registry``, or a cell
    file's ``inits``); nothing is downloaded when ``HF_HUB_OFFLINE=1``. Raises ``ValueError`` when a
    cxrinit weights file was trained with another architecture than the init builds.
    """
    spec = init_spec(spec, registry)
    if labels is not None and len(labels) != num_classes:
        raise ValueError(f"{len(labels)} labels given for num_classes={num_classes}")
    kwargs = {**spec.model_kwargs, **model_kwargs, "num_classes": num_classes, "img_size": img_size}
    with torch.random.fork_rng(devices=[]):
        if spec.seed is not None or seed is not None:
            # the new head (and a random init) is reproducible without touching the global RNG
            torch.manual_seed(spec.seed if spec.seed is not None else seed)
        model, meta = _create(spec, kwargs, list(labels) if labels is not None else None, registry_key)
    mean, std = _statistics(spec, model, meta)
    contract = InputContract.for_init(img_size, mean, std, normalization)
    return model, contract


def _create(spec: InitSpec, kwargs: dict[str, Any], labels: list[str] | None,
            registry_key: str) -> tuple[nn.Module, dict[str, Any]]:
    if spec.weights == "none":
        return _timm(spec.arch, False, kwargs), {}
    if spec.file:
        path = Path(spec.file).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(
                f"init {spec.name!r}: weights file {path} not found. {_howto(spec, registry_key)}")
        return _from_file(spec, path, kwargs, labels, registry_key)
    if spec.weights == "file":
        raise WeightsUnavailable(f"init {spec.name!r} needs a local weights file and none is set. "
                                 f"{_howto(spec, registry_key)}")
    if spec.hf_repo:
        return _from_file(spec, _publisher_file(spec, registry_key), kwargs, labels, registry_key)
    with torch.device("meta"):
        probe = _timm(spec.arch, False, kwargs)  # validates arch + kwargs and resolves the hub id, allocating nothing
    if repo := _missing_offline(probe):
        raise WeightsUnavailable(
            f"init {spec.name!r}: pretrained weights for {spec.arch} are not in the local hub cache ({repo}) and "
            f"downloads are off (HF_HUB_OFFLINE=1). {_howto(spec, registry_key)}")
    try:
        return _timm(spec.arch, True, kwargs), {}
    except Exception as err:  # noqa: BLE001 - network/hub failures come in many types; config errors were caught above
        raise WeightsUnavailable(
            f"init {spec.name!r}: pretrained weights for {spec.arch} could not be fetched from the hub "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"{_howto(spec, registry_key)}") from err


def _from_file(spec: InitSpec, path: Path, kwargs: dict[str, Any], labels: list[str] | None,
               registry_key: str) -> tuple[nn.Module, dict[str, Any]]:
    state, meta = read_weights(path)
    _check_architecture(spec, meta, path, registry_key)
    model = _timm(spec.arch, False, kwargs)
    origin = f"init {spec.name!r} ({path})"
    state = convert_to_timm(state, model)
    state = fit_head(state, model, spec.head, labels, meta.get("labels"), origin)
    load_into(model, state, origin)
    log.info("init %s: %d tensors loaded from %s", spec.name, len(state), path)
    return model, meta


#: The weights files of a transformers-layout repo (``hf_repo``), in the order they are looked for in the cache.
_HF_REPO_FILES = ("model.safetensors", "pytorch_model.bin")


def _publisher_file(spec: InitSpec, registry_key: str) -> Path:
    """The weights file of ``spec.hf_repo`` in the Hugging Face cache, downloaded there when it is not yet.

    timm cannot load a transformers-layout repo (``hf-hub:`` expects timm's own layout), so its
    ``model.safetensors`` is fetched with ``huggingface_hub`` (cached like any hub file) and then read as a local
    file. With ``HF_HUB_OFFLINE=1`` only the cache is looked at: nothing is fetched.
    """
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

    repo = spec.hf_repo or ""
    for name in _HF_REPO_FILES:
        cached = try_to_load_from_cache(repo, name)
        if isinstance(cached, str):
            return Path(cached)
    if constants.HF_HUB_OFFLINE:
        raise WeightsUnavailable(
            f"init {spec.name!r}: the weights of {repo} are not in the local hub cache and downloads are off "
            f"(HF_HUB_OFFLINE=1). {_howto(spec, registry_key)}")
    try:
        return Path(hf_hub_download(repo, _HF_REPO_FILES[0]))
    except Exception as err:  # noqa: BLE001 - network/hub failures come in many types
        raise WeightsUnavailable(
            f"init {spec.name!r}: {_HF_REPO_FILES[0]} of {repo} could not be fetched from the hub "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"{_howto(spec, registry_key)}") from err


_HUB_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def _missing_offline(probe: nn.Module) -> str | None:
    """The hub repo of ``probe``'s weights when downloads are off and no weights file of it is cached."""
    from huggingface_hub import constants, try_to_load_from_cache

    cfg = getattr(probe, "pretrained_cfg", {}) or {}
    repo = cfg.get("hf_hub_id")
    if not constants.HF_HUB_OFFLINE or not repo or repo.endswith("/"):
        return None
    names = (cfg["hf_hub_filename"],) if cfg.get("hf_hub_filename") else _HUB_FILES
    if any(isinstance(try_to_load_from_cache(repo, name), str) for name in names):
        return None
    return repo


def _timm(arch: str, pretrained: bool, kwargs: dict[str, Any]) -> nn.Module:
    try:
        return timm.create_model(arch, pretrained=pretrained, **kwargs)
    except TypeError as err:
        if "img_size" not in str(err):
            raise
        # architectures without a fixed grid (CNNs) take any size and reject the argument
        return timm.create_model(arch, pretrained=pretrained, **{k: v for k, v in kwargs.items() if k != "img_size"})


def _entry_key(spec: InitSpec, registry_key: str) -> str:
    """The key of the init's own mapping: ``<registry_key>.<name>``, or ``registry_key`` itself when it
    names a mapping (``init`` in a cell file given as ``init: {name: ..., file: ...}``)."""
    return registry_key if registry_key == "init" else f"{registry_key}.{spec.name}"


def _howto(spec: InitSpec, registry_key: str) -> str:
    where = f" ({spec.howto})" if spec.howto else ""
    if registry_key.endswith(".registry"):
        block = registry_key.split(".", 1)[0]
        place = (f"in the parameters of the environment you run (conf/local/parameters_{block}.yml for "
                 f"`kedro run`, conf/demo/parameters_{block}.yml for `--env demo`)")
    else:
        place = "in the cell configuration"
    cacher = "huggingface_hub" if spec.hf_repo else "timm"
    online = f", or run once online so {cacher} caches them" if spec.weights == "hub" else ""
    return (f"Provide the weights as a local file{where} and set `{_entry_key(spec, registry_key)}.file: /path/to/file` "
            f"(.safetensors, or a PyTorch state dict .pt/.pth/.bin) {place}{online}.")


def _arch(name: str) -> str:
    """The architecture without its pretrained tag (``vit_base_patch16_224.augreg_in21k`` -> ``vit_base_patch16_224``)."""
    return name.split(":", 1)[-1].split(".", 1)[0]


def _check_architecture(spec: InitSpec, meta: Mapping[str, Any], path: Path, registry_key: str) -> None:
    """A cxrinit checkpoint records the architecture it was trained as: building another cannot load it."""
    arch = meta.get("arch")
    trained = (meta.get("cell") or {}).get("init") or {}
    kwargs = trained.get("model_kwargs")
    if not isinstance(arch, str) or (_arch(arch) == _arch(spec.arch)
                                     and (kwargs is None or dict(kwargs) == dict(spec.model_kwargs))):
        return
    shown = f"arch: {arch}" + (f", model_kwargs: {dict(kwargs)}" if kwargs else "")
    raise ValueError(f"init {spec.name!r}: {path} was trained as {shown}, but this init builds arch "
                     f"{spec.arch} with model_kwargs {dict(spec.model_kwargs)}; set {{{shown}}} on "
                     f"`{_entry_key(spec, registry_key)}`")


def _statistics(spec: InitSpec, model: nn.Module, meta: dict[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    own = meta.get("contract") if isinstance(meta.get("contract"), dict) else None
    if own and own.get("normalization") == "init":
        base_mean, base_std = tuple(own["mean"]), tuple(own["std"])  # a checkpoint trained with its own stats
    else:
        base_mean, base_std = tuple(cfg.get("mean", _DEFAULT_MEAN)), tuple(cfg.get("std", _DEFAULT_STD))
    return spec.mean or base_mean, spec.std or base_std


def describe(model: nn.Module) -> dict[str, Any]:
    """Parameter counts for logging."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"params": total, "trainable_params": trainable}
