"""Hugging Face transformers DINOv2 checkpoints -> timm ``VisionTransformer`` keys, from the state dict alone.

The publishers of RAD-DINO (https://huggingface.co/microsoft/rad-dino/blob/main/config.json: ``Dinov2Model``)
and CXformer (https://huggingface.co/m42-health/CXformer-base/blob/main/config.json: ``Dinov2WithRegistersModel``)
ship this layout as ``model.safetensors``. Its keys as ``save_pretrained`` writes them, for width D, R registers,
an N-patch grid and patch P (transformers ``src/transformers/models/dinov2/modeling_dinov2.py`` and
``models/dinov2_with_registers/modeling_dinov2_with_registers.py``; the legacy names below are restored on save
by ``conversion_mapping.py``, https://github.com/huggingface/transformers)::

    embeddings.cls_token                                  [1, 1, D]
    embeddings.mask_token                                 [1, D]        masked-image pretraining only: dropped
    embeddings.register_tokens                            [1, R, D]     Dinov2WithRegistersModel only
    embeddings.position_embeddings                        [1, 1 + N, D] entry 0: the class token's position
    embeddings.patch_embeddings.projection.{weight,bias}  [D, 3, P, P], [D]
    encoder.layer.i.norm1 / norm2.{weight,bias}           [D] LayerNorm, eps layer_norm_eps (1e-6, as timm's)
    encoder.layer.i.attention.attention.{query,key,value}.{weight,bias}  [D, D], [D]
    encoder.layer.i.attention.output.dense.{weight,bias}  [D, D], [D]
    encoder.layer.i.layer_scale1 / layer_scale2.lambda1   [D]
    encoder.layer.i.mlp.fc1 / fc2.{weight,bias}           [H, D] / [D, H]: GELU MLP, H = 4 D
    encoder.layer.i.mlp.weights_in / weights_out          SwiGLU: weights_in [2H', D] = [gate; up]
    layernorm.{weight,bias}                               [D]: the final norm of ``last_hidden_state``

optionally under ``dinov2.`` (the ``...ForImageClassification`` models; their ``classifier`` is dropped). The
names transformers 5 uses in memory (``attention.q_proj``/``k_proj``/``v_proj``/``o_proj``,
``mlp.gate_proj``/``up_proj``/``down_proj``; a file saved with ``save_original_format=False``) are read too.

timm (``timm/models/vision_transformer.py``) names them ``cls_token``, ``reg_token`` [1, R, D], ``pos_embed``,
``patch_embed.proj``, ``blocks.i.{norm1,norm2,ls1.gamma,ls2.gamma,mlp.fc1,mlp.fc2}``, ``blocks.i.attn.proj`` and
``norm``, with one ``blocks.i.attn.qkv`` [3D, D] whose rows are queries, keys, values in that order (its forward
reshapes the output to (3, heads, head_dim)); its packed SwiGLU takes ``fc1`` = [gate; up] (``GluMlp``,
``gate_last=False``). timm's DINOv2-with-registers models (``no_embed_class``) add ``pos_embed`` [1, N, D] to the
patches only: the class token's position is folded into ``cls_token``, as timm's ``_convert_dinov2`` does for
Meta's checkpoints; transformers adds no position to the registers either.
"""

from __future__ import annotations

import logging
import re

import torch
from torch import nn

log = logging.getLogger(__name__)

_MARK = "embeddings.patch_embeddings.projection.weight"
_PREFIX = "dinov2."
_DROPPED = ("embeddings.mask_token",)
#: One HF tensor -> one timm tensor.
_RENAMES = (
    (r"embeddings\.cls_token$", "cls_token"),
    (r"embeddings\.register_tokens$", "reg_token"),
    (r"embeddings\.position_embeddings$", "pos_embed"),
    (r"embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"encoder\.layer\.(\d+)\.norm([12])\.", r"blocks.\1.norm\2."),
    (r"encoder\.layer\.(\d+)\.attention\.(?:output\.dense|o_proj)\.", r"blocks.\1.attn.proj."),
    (r"encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1$", r"blocks.\1.ls\2.gamma"),
    (r"encoder\.layer\.(\d+)\.mlp\.(fc[12])\.", r"blocks.\1.mlp.\2."),
    (r"encoder\.layer\.(\d+)\.mlp\.weights_in\.", r"blocks.\1.mlp.fc1."),
    (r"encoder\.layer\.(\d+)\.mlp\.(?:weights_out|down_proj)\.", r"blocks.\1.mlp.fc2."),
    (r"layernorm\.", "norm."),
)
#: HF tensors that are parts of one timm tensor: (pattern, timm key, index of the part in the concatenation).
_PARTS = (
    (r"encoder\.layer\.(\d+)\.attention\.(?:attention\.query|q_proj)\.(weight|bias)$", r"blocks.\1.attn.qkv.\2", 0),
    (r"encoder\.layer\.(\d+)\.attention\.(?:attention\.key|k_proj)\.(weight|bias)$", r"blocks.\1.attn.qkv.\2", 1),
    (r"encoder\.layer\.(\d+)\.attention\.(?:attention\.value|v_proj)\.(weight|bias)$", r"blocks.\1.attn.qkv.\2", 2),
    (r"encoder\.layer\.(\d+)\.mlp\.gate_proj\.(weight|bias)$", r"blocks.\1.mlp.fc1.\2", 0),  # SwiGLU: silu(gate) * up
    (r"encoder\.layer\.(\d+)\.mlp\.up_proj\.(weight|bias)$", r"blocks.\1.mlp.fc1.\2", 1),
)


def is_hf_dinov2(state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` is in the transformers DINOv2 layout (its patch projection's name says so)."""
    return _MARK in state or _PREFIX + _MARK in state


def hf_dinov2_to_timm(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """``state`` (transformers ``Dinov2Model`` / ``Dinov2WithRegistersModel`` keys) in timm's keys for ``model``.

    The position grid stays the checkpoint's ([1, 1 + N, D], or [1, N, D] for a ``no_embed_class`` model);
    timm's checkpoint filter resamples it to the model's grid afterwards. Keys it does not know are kept as they
    are, so loading reports them.
    """
    if _PREFIX + _MARK in state:
        outside = sorted(k for k in state if not k.startswith(_PREFIX))
        if outside:
            log.info("HF DINOv2 checkpoint: dropping %d tensors outside the backbone: %s", len(outside), outside[:4])
        state = {k[len(_PREFIX):]: v for k, v in state.items() if k.startswith(_PREFIX)}
    out: dict[str, torch.Tensor] = {}
    parts: dict[str, dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        if key in _DROPPED:
            continue
        for pattern, target, index in _PARTS:
            if m := re.match(pattern, key):
                parts.setdefault(m.expand(target), {})[index] = value
                break
        else:
            out[_renamed(key)] = value
    for target, found in parts.items():
        count = 3 if ".attn.qkv." in target else 2
        if sorted(found) == list(range(count)):
            out[target] = torch.cat([found[i] for i in range(count)], dim=0)
        else:  # incomplete: kept apart under names no model has, so loading reports the checkpoint as not fitting
            out.update({f"{target}[part {i}]": v for i, v in found.items()})
    if getattr(model, "no_embed_class", False) and "pos_embed" in out and "cls_token" in out:
        out["cls_token"] = out["cls_token"] + out["pos_embed"][:, :1]
        out["pos_embed"] = out["pos_embed"][:, 1:]
    return out


def _renamed(key: str) -> str:
    for pattern, replacement in _RENAMES:
        new, n = re.subn(f"^{pattern}", replacement, key)
        if n:
            return new
    return key
