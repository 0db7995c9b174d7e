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
                **model_kwargs: Any) -> tuple[nn.Module, InputContract]:
    """Create the init's architecture with its weights, a ``num_classes`` head, at ``img_size``.

    ``labels`` (the target's findings, in head order) lets a checkpoint that carries its own label list
    (``mimic``) keep its classifier. ``normalization``: ``init`` applies the init's mean/std, ``paper``
    feeds [0, 1] gray-as-RGB unnormalized (the study). Raises ``WeightsUnavailable`` with instructions
    when the weights are not here; nothing is downloaded when ``HF_HUB_OFFLINE=1``.
    """
    spec = init_spec(spec, registry)
    if labels is not None and len(labels) != num_classes:
        raise ValueError(f"{len(labels)} labels given for num_classes={num_classes}")
    kwargs = {**spec.model_kwargs, **model_kwargs, "num_classes": num_classes, "img_size": img_size}
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)  # the new head (and a random init) is reproducible without touching global RNG
        model, meta = _create(spec, kwargs, list(labels) if labels is not None else None)
    mean, std = _statistics(spec, model, meta)
    contract = InputContract.for_init(img_size, mean, std, normalization)
    return model, contract


def _create(spec: InitSpec, kwargs: dict[str, Any], labels: list[str] | None) -> tuple[nn.Module, dict[str, Any]]:
    if spec.weights == "none":
        return _timm(spec.arch, False, kwargs), {}
    if spec.file:
        path = Path(spec.file).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(
                f"init {spec.name!r}: weights file {path} not found. {_howto(spec)}")
        model = _timm(spec.arch, False, kwargs)
        state, meta = read_weights(path)
        origin = f"init {spec.name!r} ({path})"
        state = convert_to_timm(state, model)
        state = fit_head(state, model, spec.head, labels, meta.get("labels"), origin)
        load_into(model, state, origin)
        log.info("init %s: %d tensors loaded from %s", spec.name, len(state), path)
        return model, meta
    if spec.weights == "file":
        raise WeightsUnavailable(f"init {spec.name!r} needs a local weights file and none is set. {_howto(spec)}")
    with torch.device("meta"):
        probe = _timm(spec.arch, False, kwargs)  # validates arch + kwargs and resolves the hub id, allocating nothing
    if repo := _missing_offline(probe):
        raise WeightsUnavailable(
            f"init {spec.name!r}: pretrained weights for {spec.arch} are not in the local hub cache ({repo}) and "
            f"downloads are off (HF_HUB_OFFLINE=1). {_howto(spec)}")
    try:
        return _timm(spec.arch, True, kwargs), {}
    except Exception as err:  # noqa: BLE001 - network/hub failures come in many types; config errors were caught above
        raise WeightsUnavailable(
            f"init {spec.name!r}: pretrained weights for {spec.arch} could not be fetched from the hub "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). {_howto(spec)}") from err


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


def _howto(spec: InitSpec) -> str:
    where = f" ({spec.howto})" if spec.howto else ""
    return (f"Provide the weights as a local file{where} and set `{spec.config_key}: /path/to/file` "
            f"(.safetensors, or a PyTorch state dict .pt/.pth/.bin) in conf/local/parameters_finetuning.yml "
            f"(`pretraining.registry.{spec.name}.file` when it starts the MIMIC model), or run once online so "
            f"timm caches them.")


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
