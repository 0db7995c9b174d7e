"""Weights files: formats, DINOv2 hub key layout, head handling, refusal of pickled code, missing weights."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from cxrinit.models import WeightsUnavailable, build_model, read_weights
from cxrinit.training.checkpoint import save_weights

TINY = {"arch": "vit_tiny_patch16_224", "model_kwargs": {"depth": 2, "embed_dim": 32, "num_heads": 2, "patch_size": 8}}
LABELS = ["a", "b", "c"]


def reference(num_classes: int = 3, img_size: int = 32, seed: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(TINY["arch"], num_classes=num_classes, img_size=img_size, **TINY["model_kwargs"]).eval()


def spec(path: Path, **extra) -> dict:
    return {"name": "local", **TINY, "file": str(path), **extra}


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_safetensors_file_loads_weights_and_replaces_unmatched_head(tmp_path: Path, x: torch.Tensor) -> None:
    ref = reference()
    save_file(ref.state_dict(), tmp_path / "w.safetensors")
    model, _ = build_model(spec(tmp_path / "w.safetensors"), 3, 32, labels=LABELS, seed=0)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.forward_features(x), ref.forward_features(x))
        # no label list in the file: the classifier is a new one under head=auto
        assert not torch.equal(model.head.weight, ref.head.weight)
    kept, _ = build_model(spec(tmp_path / "w.safetensors", head="keep"), 3, 32, seed=0)
    with torch.no_grad():
        assert torch.equal(kept.eval()(x), ref(x))


def test_wrapped_state_dict_with_labels_keeps_and_reorders_head(tmp_path: Path, x: torch.Tensor) -> None:
    ref = reference()
    wrapped = {"model": {f"module.{k}": v for k, v in ref.state_dict().items()}, "meta": {"labels": LABELS}, "epoch": 3}
    for suffix in (".pt", ".pth", ".bin"):
        torch.save(wrapped, tmp_path / f"w{suffix}")
        model, _ = build_model(spec(tmp_path / f"w{suffix}"), 3, 32, labels=LABELS)
        with torch.no_grad():
            assert torch.equal(model.eval()(x), ref(x))
    reordered, _ = build_model(spec(tmp_path / "w.pt"), 3, 32, labels=["c", "a", "b"])
    with torch.no_grad():
        assert torch.equal(reordered.eval()(x), ref(x)[:, [2, 0, 1]])
    other, _ = build_model(spec(tmp_path / "w.pt"), 2, 32, labels=["a", "z"])
    assert other.head.weight.shape == (2, 32)
    with pytest.raises(ValueError, match="label sets differ"):
        build_model(spec(tmp_path / "w.pt", head="keep"), 2, 32, labels=["a", "z"])
    reset, _ = build_model(spec(tmp_path / "w.pt", head="reset"), 3, 32, labels=LABELS, seed=5)
    assert not torch.equal(reset.head.weight, ref.head.weight)


def test_shared_head_keeps_the_rows_of_shared_findings_and_starts_the_others_new(tmp_path: Path,
                                                                                  x: torch.Tensor) -> None:
    """A supervised init (e.g. MIMIC) on a target whose label set overlaps its own: ``head: shared``."""
    ref = reference()
    torch.save({"model": ref.state_dict(), "meta": {"labels": LABELS}}, tmp_path / "w.pt")
    target = ["c", "z", "a"]  # two findings shared (in another order), one new
    model, _ = build_model(spec(tmp_path / "w.pt", head="shared"), 3, 32, labels=target, seed=4)
    fresh, _ = build_model(spec(tmp_path / "w.pt", head="reset"), 3, 32, labels=target, seed=4)
    with torch.no_grad():
        out, want = model.eval()(x), ref(x)
        assert torch.equal(out[:, [0, 2]], want[:, [2, 0]])  # c and a: the checkpoint's rows
        assert torch.equal(model.head.weight[1], fresh.head.weight[1])  # z: the same new row as head: reset
        assert torch.equal(model.head.bias[1], fresh.head.bias[1])
    # nothing shared: every row new (and still a valid model)
    none, _ = build_model(spec(tmp_path / "w.pt", head="shared"), 2, 32, labels=["y", "z"], seed=4)
    assert none.head.weight.shape == (2, 32)
    # without the checkpoint's label list there is nothing to match rows by
    save_file(ref.state_dict(), tmp_path / "bare.safetensors")
    with pytest.raises(ValueError, match="head='shared' needs the label lists.*the checkpoint has none"):
        build_model(spec(tmp_path / "bare.safetensors", head="shared"), 3, 32, labels=target)


def dinov2_hub_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s weights in the official DINOv2 hub checkpoint layout (no head, a mask token)."""
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
    state["mask_token"] = torch.zeros(1, state["cls_token"].shape[-1])
    return state


def test_dinov2_hub_layout_loads_with_identical_outputs_and_resamples_grid(tmp_path: Path) -> None:
    kwargs = {"depth": 2, "embed_dim": 32, "num_heads": 2}
    torch.manual_seed(2)
    ref = timm.create_model("vit_small_patch14_dinov2", num_classes=0, img_size=56, **kwargs).eval()
    with torch.no_grad():  # layer-scale gammas start at 1e-5; make them matter
        for name, p in ref.named_parameters():
            if name.endswith("gamma"):
                p.copy_(torch.rand_like(p))
    hub = dinov2_hub_state(ref)
    assert {"mask_token", "blocks.0.ls1.gamma", "patch_embed.proj.weight", "pos_embed", "cls_token"} <= set(hub)
    torch.save(hub, tmp_path / "dinov2_vitb14_pretrain.pth")
    init = {"name": "dinov2", "arch": "vit_small_patch14_dinov2", "model_kwargs": kwargs,
            "file": str(tmp_path / "dinov2_vitb14_pretrain.pth")}
    model, contract = build_model(init, 4, 56, seed=0)
    x = torch.rand(2, 3, 56, 56, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.eval().forward_features(x), ref.forward_features(x))
    assert contract.mean == pytest.approx((0.485, 0.456, 0.406))  # DINOv2's own statistics
    bigger, _ = build_model(init, 4, 84, seed=0)  # 6 x 6 patches instead of 4 x 4: position grid resampled
    assert bigger.pos_embed.shape == (1, 1 + 36, 32)
    assert bigger(torch.rand(1, 3, 84, 84)).shape == (1, 4)


def test_dinov3_file_in_timms_layout_loads_with_identical_outputs_at_any_grid(tmp_path: Path) -> None:
    """The built-in ``dinov3`` arm offline: timm's published safetensors layout (registers, rotary positions)."""
    kwargs = {"depth": 2, "embed_dim": 32, "num_heads": 2}
    torch.manual_seed(3)
    ref = timm.create_model("vit_small_patch16_dinov3", num_classes=0, img_size=64, **kwargs).eval()
    assert ref.num_prefix_tokens == 5  # the class token and 4 registers
    save_file(ref.state_dict(), tmp_path / "model.safetensors")
    init = {"name": "dinov3", "arch": "vit_small_patch16_dinov3", "model_kwargs": kwargs,
            "file": str(tmp_path / "model.safetensors")}
    model, contract = build_model(init, 4, 64, seed=0)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.eval().forward_features(x), ref.forward_features(x))
    assert contract.mean == pytest.approx((0.485, 0.456, 0.406)) and contract.size == 64
    bigger, _ = build_model(init, 4, 96, seed=0)  # rotary positions: another grid needs no resampling
    assert bigger(torch.rand(1, 3, 96, 96)).shape == (1, 4)


def test_a_cxrinit_checkpoint_names_the_architecture_it_was_trained_as(tmp_path: Path) -> None:
    tiny = {"depth": 2, "embed_dim": 32, "num_heads": 2, "patch_size": 8}
    meta = {"arch": "vit_tiny_patch16_224", "cell": {"init": {"model_kwargs": tiny}}}
    save_weights(reference().state_dict(), tmp_path / "best.safetensors", meta)
    with pytest.raises(ValueError) as err:  # the gpu.md MIMIC-arm cell without its arch
        build_model({"name": "mimic", "file": str(tmp_path / "best.safetensors")}, 3, 32, registry_key="inits")
    message = str(err.value)
    assert "was trained as arch: vit_tiny_patch16_224, model_kwargs: {'depth': 2" in message
    assert "`inits.mimic`" in message and "size mismatch" not in message
    model, _ = build_model({"name": "mimic", "file": str(tmp_path / "best.safetensors"),
                            "arch": "vit_tiny_patch16_224", "model_kwargs": tiny}, 3, 32)
    expected = reference().state_dict()  # the backbone is the file's (the head: no label list to keep it by)
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items() if not k.startswith("head."))


def test_file_of_another_architecture_is_refused_with_the_keys(tmp_path: Path) -> None:
    torch.save(reference().state_dict(), tmp_path / "w.pt")
    other = {"name": "x", "arch": "vit_tiny_patch16_224", "file": str(tmp_path / "w.pt"),
             "model_kwargs": {"depth": 3, "embed_dim": 32, "num_heads": 2, "patch_size": 8}}
    with pytest.raises(ValueError, match=r"missing \['blocks\.2\."):
        build_model(other, 3, 32)


class Exploit:
    """Pickles into a call of os.system when unpickled without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickle_with_arbitrary_objects_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"model": reference().state_dict(), "hook": Exploit(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="refused"):
        read_weights(tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="refused"):
        build_model(spec(tmp_path / "evil.pt"), 3, 32)
    assert not marker.exists()


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown format '.npz'"):
        read_weights(tmp_path / "w.npz")
    with pytest.raises(WeightsUnavailable, match=r"not found.*finetuning\.registry\.local\.file"):
        build_model(spec(tmp_path / "absent.safetensors"), 3, 32)


def test_missing_weights_say_how_to_provide_them() -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(WeightsUnavailable) as err:
        build_model("dinov2", 5, 224)
    msg = str(err.value)
    assert "dinov2_vitb14_pretrain.pth" in msg and "finetuning.registry.dinov2.file" in msg and "HF_HUB_OFFLINE" in msg
    assert "conf/demo/parameters_finetuning.yml for `--env demo`" in msg and "run once online" in msg
    with pytest.raises(WeightsUnavailable, match=r"huggingface\.co/timm/vit_base_patch16_224\.augreg_in21k"):
        build_model("imagenet21k", 5, 224)
    with pytest.raises(WeightsUnavailable, match=r"kedro run --pipeline pretraining.*finetuning\.registry\.mimic\.file"):
        build_model("mimic", 5, 224)
    # where the inits come from decides the setting named; a file-only init is never "cached once online"
    with pytest.raises(WeightsUnavailable) as err:
        build_model({"name": "dinov2", "weights": "file"}, 5, 224, registry_key="inits")
    assert "`inits.dinov2.file: /path/to/file`" in str(err.value) and "in the cell configuration" in str(err.value)
    assert "online" not in str(err.value)
    with pytest.raises(WeightsUnavailable, match=r"set `init\.file: /path/to/file`"):  # init: {name: ..., ...}
        build_model({"name": "dinov2", "weights": "file"}, 5, 224, registry_key="init")
    with pytest.raises(WeightsUnavailable, match=r"`pretraining\.registry\.imagenet21k\.file"):
        build_model("imagenet21k", 5, 224, registry_key="pretraining.registry")


def test_bad_architecture_name_is_a_config_error_not_missing_weights() -> None:
    with pytest.raises(RuntimeError, match="Unknown model") as err:
        build_model({"name": "typo", "arch": "vit_bse_patch16_224"}, 3, 224)
    assert not isinstance(err.value, WeightsUnavailable)


def test_an_init_seed_draws_other_random_weights_than_the_training_seed() -> None:
    """The demo's negative control: `random_b` differs from `random` only in its initial weights."""
    scratch = {"name": "scratch", **TINY, "weights": "none"}
    a, _ = build_model(scratch, 3, 32, seed=0)
    again, _ = build_model(scratch, 3, 32, seed=0)
    b, _ = build_model({**scratch, "seed": 1}, 3, 32, seed=0)
    pinned, _ = build_model({**scratch, "seed": 1}, 3, 32, seed=5)
    same = lambda m, n: all(torch.equal(x, y) for x, y in zip(m.state_dict().values(), n.state_dict().values()))  # noqa: E731
    assert same(a, again) and not same(a, b) and same(b, pinned)
