"""Weights files are a function of their content: the same tensors and metadata give the same bytes."""

from __future__ import annotations

import hashlib

import torch
from safetensors import safe_open

from cxrinit.training.checkpoint import save_weights


def test_the_same_weights_and_metadata_give_the_same_file(tmp_path) -> None:
    state = {"head.weight": torch.arange(6.0).reshape(2, 3), "head.bias": torch.zeros(2)}
    meta = {"init": "random", "arch": "vit_tiny", "findings": ["a", "b"], "contract": {"size": 64},
            "train_config": {"lr": 1e-4, "epochs": 2}, "z": 1, "m": "é"}
    digests = set()
    for i in range(6):  # safetensors orders its metadata by a hash map: differently on every call
        save_weights(state, tmp_path / f"w{i}.safetensors", meta)
        digests.add(hashlib.sha256((tmp_path / f"w{i}.safetensors").read_bytes()).hexdigest())
    assert len(digests) == 1
    with safe_open(tmp_path / "w0.safetensors", framework="pt") as f:
        assert f.metadata()["findings"] == '["a", "b"]'
        assert torch.equal(f.get_tensor("head.weight"), state["head.weight"])
