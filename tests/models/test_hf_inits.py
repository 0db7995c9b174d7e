"""RAD-DINO and CXformer: chest-radiograph DINOv2s published in the Hugging Face transformers layout.

Checkpoints are built here in each publisher's exact layout by transformers itself (tiny, random, saved with
``save_pretrained``); the converted timm model must give the transformers model's ``last_hidden_state``.
Nothing is downloaded: the hub is replaced by a temporary cache or a stub that fails when called.
"""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
import timm
import torch
import transformers
from huggingface_hub import constants

from cxrinit.models import BUILTIN_INITS, WeightsUnavailable, build_model
from cxrinit.models.weights import convert_to_timm, load_into

#: What each publisher's config.json / preprocessor_config.json says (docs/training.md cites the sources).
PUBLISHED = {
    "rad_dino": {"repo": "microsoft/rad-dino", "config": transformers.Dinov2Config,
                 "model": transformers.Dinov2Model, "registers": 0,
                 "mean": (0.5307,) * 3, "std": (0.2583,) * 3},
    "cxformer": {"repo": "m42-health/CXformer-base", "config": transformers.Dinov2WithRegistersConfig,
                 "model": transformers.Dinov2WithRegistersModel, "registers": 4,
                 "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
}
#: ViT-B/14 at 518 px, GELU MLP, layer scale, LayerNorm eps 1e-6: both publishers' backbone.
FULL = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "patch_size": 14,
        "image_size": 518, "mlp_ratio": 4, "layerscale_value": 1.0, "layer_norm_eps": 1e-6,
        "use_swiglu_ffn": False, "qkv_bias": True, "hidden_act": "gelu"}
TINY_HF = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "patch_size": 14, "image_size": 56}
TINY = {"depth": 2, "embed_dim": 32, "num_heads": 2}
NAMES = list(PUBLISHED)


def publisher_model(name: str, seed: int = 0, model_cls: type | None = None, **config) -> torch.nn.Module:
    """A tiny random model of ``name``'s transformers class; tokens and layer scales random so they matter."""
    torch.manual_seed(seed)
    info = PUBLISHED[name]
    model = (model_cls or info["model"])(info["config"](**{**TINY_HF, **config})).eval()
    with torch.no_grad():
        for key, p in model.named_parameters():
            if key.endswith(("lambda1", "cls_token", "register_tokens", "mask_token")):
                p.copy_(torch.randn_like(p))
    return model


def saved(model: torch.nn.Module, where: Path, **kwargs) -> Path:
    model.save_pretrained(where, **kwargs)
    return where / "model.safetensors"


def hidden(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(pixel_values=x).last_hidden_state


def features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval().forward_features(x)


def images(size: int, n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(size))


@pytest.mark.parametrize("name", NAMES)
def test_the_registry_entry_is_the_publishers_architecture_and_contract(name: str) -> None:
    info, spec = PUBLISHED[name], BUILTIN_INITS[name]
    assert spec.hf_repo == info["repo"] and spec.weights == "hub"
    assert spec.mean == info["mean"] and spec.std == info["std"]
    assert f"https://huggingface.co/{info['repo']}" in spec.howto and "model.safetensors" in spec.howto
    with torch.device("meta"):  # full size, nothing allocated
        timm_model = timm.create_model(spec.arch, num_classes=0, img_size=518)
        published = info["model"](info["config"](**FULL))
    assert timm_model.patch_embed.patch_size == (14, 14) and timm_model.num_reg_tokens == info["registers"]
    assert timm_model.blocks[0].attn.num_heads == 12 and timm_model.norm.eps == 1e-6
    assert isinstance(timm_model.blocks[0].mlp.act, torch.nn.GELU) and timm_model.blocks[0].mlp.act.approximate == "none"
    assert isinstance(timm_model.blocks[0].ls1, timm.layers.LayerScale)
    converted = convert_to_timm(published.state_dict(), timm_model)
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in timm_model.state_dict().items()}
    _, contract = build_model({"name": name, "weights": "none", "model_kwargs": TINY}, 2, 56)
    assert contract.mean == info["mean"] and contract.std == info["std"] and contract.size == 56


@pytest.mark.parametrize("name", NAMES)
def test_the_publishers_file_gives_the_publishers_features_at_any_grid(name: str, tmp_path: Path) -> None:
    ref = publisher_model(name)
    path = saved(ref, tmp_path / name)
    init = {"name": name, "file": str(path), "model_kwargs": TINY}
    model, _ = build_model(init, 3, 56, seed=0)
    x = images(56)
    out = features(model, x)
    assert out.shape == (2, 1 + PUBLISHED[name]["registers"] + 16, 32)  # cls, registers, 4 x 4 patches
    torch.testing.assert_close(out, hidden(ref, x), atol=1e-5, rtol=1e-5)
    assert model(x).shape == (2, 3)
    bigger, _ = build_model(init, 3, 84, seed=0)  # 6 x 6 patches: the position grid resampled by timm
    assert bigger.pos_embed.shape[1] == 36 + (0 if PUBLISHED[name]["registers"] else 1)
    x = images(84, 1)
    out = features(bigger, x)
    assert out.shape == hidden(ref, x).shape and torch.isfinite(out).all()
    if PUBLISHED[name]["registers"]:  # both resample bicubic with antialiasing here: the same features
        torch.testing.assert_close(out, hidden(ref, x), atol=1e-5, rtol=1e-5)


def test_a_classification_checkpoint_and_transformers_5_names_load_too(tmp_path: Path) -> None:
    classifier = publisher_model("rad_dino", model_cls=transformers.Dinov2ForImageClassification, num_labels=2)
    path = saved(classifier, tmp_path / "cls")  # keys under dinov2., plus a classifier that is dropped
    model, _ = build_model({"name": "rad_dino", "file": str(path), "model_kwargs": TINY}, 3, 56)
    x = images(56)
    torch.testing.assert_close(features(model, x), hidden(classifier.dinov2, x), atol=1e-5, rtol=1e-5)
    ref = publisher_model("cxformer", seed=1)
    path = saved(ref, tmp_path / "v5", save_original_format=False)  # attention.q_proj / k_proj / v_proj / o_proj
    model, _ = build_model({"name": "cxformer", "file": str(path), "model_kwargs": TINY}, 3, 56)
    torch.testing.assert_close(features(model, x), hidden(ref, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("original_format", [True, False])
def test_a_swiglu_checkpoint_maps_onto_timms_packed_swiglu(original_format: bool, tmp_path: Path) -> None:
    ref = publisher_model("rad_dino", use_swiglu_ffn=True)  # hidden 32 * 4 * 2/3 -> 88, packed 176 = 32 * 5.5
    from cxrinit.models.weights import read_weights

    state, _ = read_weights(saved(ref, tmp_path, save_original_format=original_format))
    assert any(("weights_in" if original_format else "gate_proj") in k for k in state)
    model = timm.create_model("vit_giant_patch14_dinov2", num_classes=0, img_size=56, mlp_ratio=5.5, **TINY).eval()
    load_into(model, convert_to_timm(state, model), "swiglu")
    x = images(56)
    torch.testing.assert_close(features(model, x), hidden(ref, x), atol=1e-5, rtol=1e-5)


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, and a hub that fails the test if anything is downloaded."""
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))

    def no_download(*args, **kwargs):
        raise AssertionError(f"downloaded {args} although offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    return cache


def cache_file(cache: Path, repo: str, source: Path) -> None:
    """Put ``source`` where huggingface_hub caches ``repo``'s model.safetensors (refs/main -> snapshot)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    snapshot = folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(source.read_bytes())


def test_offline_without_the_file_says_which_setting_and_file_and_fetches_nothing(hub_cache: Path) -> None:
    assert constants.HF_HUB_OFFLINE
    with pytest.raises(WeightsUnavailable) as err:
        build_model({"name": "rad_dino", "model_kwargs": TINY}, 3, 56)
    message = str(err.value)
    assert "microsoft/rad-dino" in message and "HF_HUB_OFFLINE=1" in message
    assert "`finetuning.registry.rad_dino.file: /path/to/file`" in message
    assert "model.safetensors from https://huggingface.co/microsoft/rad-dino" in message  # the howto
    assert "so huggingface_hub caches them" in message
    with pytest.raises(WeightsUnavailable, match=r"CXformer-base.*`inits\.cxformer\.file: /path/to/file`"):
        build_model("cxformer", 3, 224, registry_key="inits")
    with pytest.raises(WeightsUnavailable, match=r"not found.*finetuning\.registry\.cxformer\.file"):
        build_model({"name": "cxformer", "file": str(hub_cache / "absent.safetensors")}, 3, 224)


def test_hub_mode_offline_reads_the_publishers_cached_file(hub_cache: Path, tmp_path: Path) -> None:
    ref = publisher_model("cxformer", seed=2)
    cache_file(hub_cache, "m42-health/CXformer-base", saved(ref, tmp_path / "pub"))
    model, contract = build_model({"name": "cxformer", "model_kwargs": TINY}, 3, 56)
    x = images(56)
    torch.testing.assert_close(features(model, x), hidden(ref, x), atol=1e-5, rtol=1e-5)
    assert contract.mean == PUBLISHED["cxformer"]["mean"]


def test_hub_mode_online_downloads_the_publishers_file_not_timms(hub_cache: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ref = publisher_model("rad_dino", seed=3)
    path = saved(ref, tmp_path / "pub")
    calls = []

    def download(repo_id: str, filename: str, **kwargs) -> str:
        calls.append((repo_id, filename))
        return str(path)

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    model, _ = build_model({"name": "rad_dino", "model_kwargs": TINY}, 3, 56)
    assert calls == [("microsoft/rad-dino", "model.safetensors")]
    torch.testing.assert_close(features(model, images(56)), hidden(ref, images(56)), atol=1e-5, rtol=1e-5)

    def unreachable(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(WeightsUnavailable, match=r"could not be fetched.*OSError: connection refused.*rad_dino\.file"):
        build_model({"name": "rad_dino", "model_kwargs": TINY}, 3, 56)


def test_a_file_that_does_not_fit_the_architecture_is_refused_with_the_keys(tmp_path: Path) -> None:
    no_registers = saved(publisher_model("rad_dino"), tmp_path / "plain")
    with pytest.raises(ValueError, match=r"does not fit architecture VisionTransformer: missing \['reg_token'\]"):
        build_model({"name": "cxformer", "file": str(no_registers), "model_kwargs": TINY}, 3, 56)
    registers = saved(publisher_model("cxformer"), tmp_path / "reg")
    with pytest.raises(ValueError, match=r"does not fit architecture.*unexpected \['reg_token'\]"):
        build_model({"name": "rad_dino", "file": str(registers), "model_kwargs": TINY}, 3, 56)
    deeper = saved(publisher_model("rad_dino", num_hidden_layers=3), tmp_path / "deep")
    with pytest.raises(ValueError, match=r"does not fit architecture.*unexpected \['blocks\.2\."):
        build_model({"name": "rad_dino", "file": str(deeper), "model_kwargs": TINY}, 3, 56)
    wider = saved(publisher_model("rad_dino", hidden_size=48, num_attention_heads=3), tmp_path / "wide")
    with pytest.raises(ValueError, match=r"does not fit architecture.*other shape \['cls_token \(1, 1, 48\)"):
        build_model({"name": "rad_dino", "file": str(wider), "model_kwargs": TINY}, 3, 56)
