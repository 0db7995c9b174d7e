"""Reading weights files safely and fitting them to a timm model (key layout, position grid, head)."""

from __future__ import annotations

import json
import logging
import pickle
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import WeightsUnavailable
from .hf_layout import hf_dinov2_to_timm, is_hf_dinov2

log = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
#: Containers that training frameworks wrap a state dict in.
_WRAPPERS = ("model", "state_dict", "model_state", "module")
#: Prefixes added by DDP and torch.compile.
_PREFIXES = ("module.", "_orig_mod.")


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict and metadata of a weights file, never executing pickled code.

    safetensors: tensors + its string metadata (JSON values decoded). PyTorch files (.pt/.pth/.bin/.ckpt)
    load with ``weights_only=True``; a state dict wrapped in ``model``/``state_dict`` is unwrapped and a
    sibling ``meta`` dict becomes the metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw_meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        return _strip_prefixes(state), {k: _maybe_json(v) for k, v in raw_meta.items()}
    if suffix not in TORCH_SUFFIXES:
        raise ValueError(f"weights file {path}: unknown format {suffix!r}; use .safetensors or a PyTorch state dict "
                         f"({', '.join(TORCH_SUFFIXES)})")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"weights file {path} holds pickled Python objects beyond tensors and plain containers, and is "
            f"refused (weights_only=True; loading it could execute arbitrary code). Re-save it as a plain state "
            f"dict (torch.save(model.state_dict(), ...)) or as .safetensors. Detail: {str(err).splitlines()[0]}"
        ) from err
    return _unwrap(obj, path)


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value


def _unwrap(obj: Any, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not isinstance(obj, dict):
        raise ValueError(f"weights file {path} holds a {type(obj).__name__}, not a state dict")
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    for key in _WRAPPERS:
        inner = obj.get(key)
        if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return _strip_prefixes(inner), meta
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"weights file {path} has no tensors at the top level nor under any of {list(_WRAPPERS)}; "
                         f"top-level keys: {sorted(obj)[:10]}")
    if others := sorted(k for k in obj if k not in tensors and k != "meta"):
        log.warning("weights file %s: ignoring %d non-tensor entries %s", path, len(others), others[:5])
    return _strip_prefixes(tensors), meta


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def convert_to_timm(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map foreign key layouts onto ``model`` and resample its position grid, via the model family's timm filter.

    A Hugging Face transformers DINOv2 checkpoint (``embeddings.*``/``encoder.layer.N.*`` keys: RAD-DINO,
    CXformer) is first renamed to timm keys (:mod:`.hf_layout`). Then, for ViTs, timm's ``checkpoint_filter_fn``:
    official DINOv2 hub checkpoints (``mask_token``, ``blocks.N.ls1.gamma``, ``w12``/``w3`` SwiGLU names) become
    timm keys, ``pos_embed`` is resampled to the model's patch grid and patch embeddings to its patch size.
    """
    state = dict(state)
    if is_hf_dinov2(state):
        state = hf_dinov2_to_timm(state, model)
    module = sys.modules.get(type(model).__module__)
    filter_fn = getattr(module, "checkpoint_filter_fn", None)
    if filter_fn is None:
        return state
    return filter_fn(state, model)


def classifier_keys(model: nn.Module) -> list[str]:
    """State-dict keys of the model's classifier (timm names it in ``pretrained_cfg['classifier']``)."""
    names = getattr(model, "pretrained_cfg", {}).get("classifier", "head")
    names = [names] if isinstance(names, str) else list(names)
    own = model.state_dict()
    return [k for k in own if any(k == n or k.startswith(n + ".") for n in names)]


def fit_head(state: dict[str, torch.Tensor], model: nn.Module, policy: str,
             labels: list[str] | None, ckpt_labels: list[str] | None, origin: str) -> dict[str, torch.Tensor]:
    """Keep, reorder or drop the checkpoint's classifier according to ``policy`` (auto / keep / reset / shared).

    A head is kept only when its label list equals the target's as a set (rows are permuted to the target's
    order); without label lists it is kept only under ``keep`` and only if shapes match. ``shared`` keeps
    the rows of the findings both lists name (in the target's order) and the model's new rows for the
    others; it needs both label lists (ValueError naming the init otherwise).
    """
    head = classifier_keys(model)
    if not head:  # an embedding backbone (num_classes=0) has no classifier: a checkpoint's is left out
        names = getattr(model, "pretrained_cfg", {}).get("classifier", "head")
        names = [names] if isinstance(names, str) else list(names)
        return {k: v for k, v in state.items() if not any(k == n or k.startswith(n + ".") for n in names)}
    present = [k for k in head if k in state]
    if not present:
        if policy == "keep":
            raise ValueError(f"{origin}: head='keep' but the checkpoint has no classifier ({head}); use head: auto")
        return state
    own = model.state_dict()
    shapes_match = all(state[k].shape == own[k].shape for k in present)
    if policy == "reset":
        return _drop(state, present, origin, "head: reset")
    if policy == "shared":
        return _shared_rows(state, own, present, labels, ckpt_labels, origin)
    if labels is not None and ckpt_labels is not None:
        if list(ckpt_labels) == list(labels):
            return state
        if sorted(ckpt_labels) == sorted(labels) and shapes_match:
            order = torch.tensor([list(ckpt_labels).index(f) for f in labels])
            log.info("%s: classifier kept, rows reordered to the target's label order", origin)
            return {k: (v[order] if k in present else v) for k, v in state.items()}
        reason = f"label sets differ (checkpoint {list(ckpt_labels)}, target {list(labels)})"
    elif shapes_match:
        reason = "no label list to match against (checkpoint or target)"
    else:
        reason = "classifier shape differs"
    if policy == "keep":
        if shapes_match and reason.startswith("no label list"):
            return state
        raise ValueError(f"{origin}: head='keep' impossible: {reason}; use head: auto or reset")
    return _drop(state, present, origin, reason)


def _shared_rows(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], keys: list[str],
                 labels: list[str] | None, ckpt_labels: list[str] | None, origin: str) -> dict[str, torch.Tensor]:
    """The checkpoint's classifier rows of the findings it shares with ``labels``; the model's rows elsewhere."""
    if labels is None or ckpt_labels is None:
        which = "the checkpoint" if ckpt_labels is None else "the target"
        raise ValueError(f"{origin}: head='shared' needs the label lists of the checkpoint and the target, and "
                         f"{which} has none; use head: auto or reset")
    ckpt = list(ckpt_labels)
    common = [f for f in labels if f in ckpt]
    if any(state[k].shape[1:] != own[k].shape[1:] or state[k].shape[0] != len(ckpt) for k in keys):
        raise ValueError(f"{origin}: head='shared' impossible: the checkpoint's classifier "
                         f"{[tuple(state[k].shape) for k in keys]} does not fit {len(ckpt)} labels and this model's "
                         f"width {[tuple(own[k].shape) for k in keys]}: the checkpoint's architecture differs "
                         f"(check arch and model_kwargs)")
    out = dict(state)
    for k in keys:
        rows = own[k].clone()
        for i, f in enumerate(labels):
            if f in ckpt:
                rows[i] = state[k][ckpt.index(f)]
        out[k] = rows
    log.info("%s: classifier rows kept for %d of %d findings (%s); %d new", origin, len(common), len(labels),
             ", ".join(common) or "none", len(labels) - len(common))
    return out


def _drop(state: dict[str, torch.Tensor], keys: list[str], origin: str, reason: str) -> dict[str, torch.Tensor]:
    log.info("%s: classifier replaced by a new one (%s)", origin, reason)
    return {k: v for k, v in state.items() if k not in keys}


def load_into(model: nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    """Load ``state`` into ``model``; only the classifier may be missing (it stays freshly initialized)."""
    own = model.state_dict()
    shapes = [f"{k} {tuple(v.shape)} (model {tuple(own[k].shape)})" for k, v in state.items()
              if k in own and v.shape != own[k].shape]
    result = model.load_state_dict({k: v for k, v in state.items() if k not in own or v.shape == own[k].shape},
                                   strict=False)
    allowed = set(classifier_keys(model))
    missing = [k for k in result.missing_keys if k not in allowed and k not in state]
    if missing or result.unexpected_keys or shapes:
        raise ValueError(
            f"{origin} does not fit architecture {type(model).__name__}: missing {missing[:8]}"
            f"{' ...' if len(missing) > 8 else ''}, unexpected {result.unexpected_keys[:8]}"
            f"{' ...' if len(result.unexpected_keys) > 8 else ''}"
            + (f", other shape {shapes[:4]}{' ...' if len(shapes) > 4 else ''}" if shapes else "")
            + ". Check the init's `arch` (and model_kwargs) matches the checkpoint.")
