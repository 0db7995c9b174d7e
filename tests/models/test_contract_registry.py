"""Input contracts (paper vs init normalization) and the initialization registry."""

from __future__ import annotations

import json

import pytest

from cxrinit.models import BUILTIN_INITS, InputContract, build_model, init_spec

TINY = {"name": "tiny", "arch": "vit_tiny_patch16_224", "weights": "none",
        "model_kwargs": {"depth": 1, "embed_dim": 16, "num_heads": 2, "patch_size": 8}}


def test_contract_follows_the_init_or_the_paper() -> None:
    _, own = build_model(TINY, 2, 32)
    assert own == InputContract(3, 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "init")  # timm's cfg for this arch
    assert not own.is_identity
    _, paper = build_model(TINY, 2, 32, normalization="paper")
    assert paper.mean == (0.0, 0.0, 0.0) and paper.std == (1.0, 1.0, 1.0) and paper.is_identity
    _, custom = build_model({**TINY, "mean": [0.1, 0.2, 0.3], "std": [1, 2, 3]}, 2, 32)
    assert custom.mean == (0.1, 0.2, 0.3) and custom.std == (1.0, 2.0, 3.0)


def test_contract_serializes_and_validates() -> None:
    c = InputContract(3, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "init")
    assert InputContract.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError, match="normalization 'imagenet' unknown"):
        InputContract(3, 224, (0, 0, 0), (1, 1, 1), "imagenet")
    with pytest.raises(ValueError, match="mean has 1 values for 3"):
        InputContract(3, 224, (0,), (1, 1, 1))
    with pytest.raises(ValueError, match=r"missing \['std'\]"):
        InputContract.from_dict({"channels": 3, "size": 224, "mean": [0, 0, 0]})


def test_registry_builtins_and_config_entries() -> None:
    assert BUILTIN_INITS["dinov2"].arch == "vit_base_patch14_dinov2.lvd142m"
    assert BUILTIN_INITS["imagenet21k"].arch == "vit_base_patch16_224.augreg_in21k"
    assert BUILTIN_INITS["dinov3"].arch == "vit_base_patch16_dinov3.lvd1689m" and "huggingface.co/timm" in \
        BUILTIN_INITS["dinov3"].howto
    assert BUILTIN_INITS["random"].weights == "none" and BUILTIN_INITS["mimic"].weights == "file"
    with_file = init_spec({"name": "dinov2", "file": "/w/dinov2_vitb14_pretrain.pth"})
    assert with_file.arch == BUILTIN_INITS["dinov2"].arch and with_file.file == "/w/dinov2_vitb14_pretrain.pth"
    configured = init_spec("mine", {"mine": {"arch": "hf-hub:timm/vit_small_patch16_224.augreg_in21k"}})
    assert configured.name == "mine" and configured.weights == "hub"
    overridden = init_spec("mimic", {"mimic": {"file": "/models/mimic/best.safetensors", "head": "reset"}})
    assert overridden.file.endswith("best.safetensors") and overridden.head == "reset"
    with pytest.raises(KeyError, match="unknown initialization 'nope'"):
        init_spec("nope")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['wieghts'\]"):
        init_spec({"name": "x", "arch": "vit_tiny_patch16_224", "wieghts": "none"})
    with pytest.raises(ValueError, match="a new entry needs an `arch`"):
        init_spec({"name": "new_one"})
    with pytest.raises(ValueError, match="weights='cloud' unknown"):
        init_spec({"name": "x", "arch": "a", "weights": "cloud"})


def test_random_init_is_seeded_and_leaves_global_rng_alone() -> None:
    import torch

    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, _ = build_model(TINY, 2, 32, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    b, _ = build_model(TINY, 2, 32, seed=7)
    c, _ = build_model(TINY, 2, 32, seed=8)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.head.weight, c.head.weight) or not torch.equal(a.pos_embed, c.pos_embed)
