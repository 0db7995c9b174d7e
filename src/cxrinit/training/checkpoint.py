"""Checkpoints written atomically, loadable with ``weights_only=True``, and the RNG states they carry."""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

LAST = "last.pt"
BEST = "best.safetensors"


def atomic_write(path: str | Path, write: Any) -> Path:
    """Call ``write(tmp_path)`` then rename over ``path``: a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")  # same filesystem: rename is atomic
    try:
        write(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save_state(state: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` of plain tensors/containers, atomically."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_state(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (no pickled code runs)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_weights(state_dict: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, Any]) -> Path:
    """Model weights as safetensors; metadata values stored as JSON strings (labels, contract, init, ...)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    meta = {k: json.dumps(v) for k, v in metadata.items()}

    def write(tmp: Path) -> None:
        save_file(tensors, tmp, metadata=meta)
        _sort_metadata(tmp)

    return atomic_write(path, write)


def _sort_metadata(path: Path) -> None:
    """Rewrite a safetensors header with its ``__metadata__`` keys sorted, in place.

    safetensors keeps metadata in a hash map, so the same weights and metadata come out in a different
    byte order from run to run, and DVC and the registry's ``weights_sha256`` would see a new file each
    time. The sorted header has the same length, so only those bytes change; if it would not (an
    escaping difference), the file is left as written.
    """
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        raw = f.read(n)
        header = json.loads(raw)
        if "__metadata__" not in header:
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) != len(raw.rstrip(b" ")):
            return
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def rng_state() -> dict[str, Any]:
    """Python, NumPy (legacy global), torch CPU and CUDA RNG states as weights_only-safe values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": _to_lists(random.getstate()),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_to_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(value: Any) -> Any:
    return [_to_lists(v) for v in value] if isinstance(value, tuple) else value


def _to_tuples(value: Any) -> Any:
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value
