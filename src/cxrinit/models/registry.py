"""Initializations: which timm architecture, where its weights come from, how to obtain them.

An initialization is plain data (``InitSpec``); the built-in ones are below and a user adds more in
configuration as a dict with the same fields, e.g.::

    my_init: {arch: vit_small_patch16_224.augreg_in21k, file: /weights/vit_s16.safetensors}
    hub_init: {arch: "hf-hub:timm/vit_base_patch16_224.augreg_in21k"}
    scratch: {arch: vit_tiny_patch16_224, weights: none, model_kwargs: {depth: 4}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

WeightsSource = Literal["hub", "file", "none"]
HeadPolicy = Literal["auto", "keep", "reset", "shared"]
_WEIGHTS = ("hub", "file", "none")
_HEADS = ("auto", "keep", "reset", "shared")


@dataclass(frozen=True)
class InitSpec:
    """One initialization.

    ``arch``: a timm model name, optionally with its pretrained tag (``vit_base_patch16_224.augreg_in21k``),
    or ``hf-hub:<repo>``. ``weights``: ``hub`` (timm ``pretrained=True``; a ``file``, when set, is used
    instead and nothing is downloaded), ``file`` (only ``file``), ``none`` (random init).
    ``head``: ``auto`` keeps a checkpoint's classifier when its label list matches the target's (reordered
    if needed) and replaces it otherwise; ``keep`` insists; ``reset`` always starts a new head; ``shared``
    keeps the classifier rows of the findings both label lists name and starts the others new (a supervised
    initialization then brings what it learned about the findings a target shares with it).
    ``mean``/``std`` override the architecture's own normalization. ``howto`` says where to get the weights
    (shown when they are missing). ``seed``: draws the random weights (``weights: none``) and the new head
    instead of the training seed, so two arms can differ only in their initial weights (a negative
    control: ``{random_b: {arch: ..., weights: none, seed: 1}}``).
    ``hf_repo``: a Hugging Face repo holding the weights in the transformers
    DINOv2 layout (``Dinov2Model`` / ``Dinov2WithRegistersModel``); ``hub`` then fetches that repo's
    ``model.safetensors`` into the Hugging Face cache instead of timm's pretrained weights of ``arch``, and
    its keys are converted to ``arch``'s on load (a ``file`` in that layout is converted the same way).
    """

    name: str
    arch: str
    weights: WeightsSource = "hub"
    file: str | None = None
    head: HeadPolicy = "auto"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    howto: str = ""
    seed: int | None = None
    hf_repo: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.arch:
            raise ValueError(f"an initialization needs a name and an arch, got name={self.name!r} arch={self.arch!r}")
        if self.weights not in _WEIGHTS:
            raise ValueError(f"init {self.name!r}: weights={self.weights!r} unknown; use one of {list(_WEIGHTS)}")
        if self.head not in _HEADS:
            raise ValueError(f"init {self.name!r}: head={self.head!r} unknown; use one of {list(_HEADS)}")
        for key in ("mean", "std"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, tuple(float(v) for v in value))
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"] = list(self.mean) if self.mean is not None else None
        d["std"] = list(self.std) if self.std is not None else None
        return d


_DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth"
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

#: The study's three arms, a random-init control, DINOv3 (the newest natural-image self-supervised ViT) and two
#: DINOv2s pretrained on chest radiographs, published in the transformers layout (converted on load, hf_layout.py).
BUILTIN_INITS: dict[str, InitSpec] = {
    "dinov2": InitSpec(
        name="dinov2", arch="vit_base_patch14_dinov2.lvd142m",
        howto=(f"download {_DINOV2_URL} (official DINOv2 ViT-B/14, hub key layout, converted on load) or "
               "model.safetensors from https://huggingface.co/timm/vit_base_patch14_dinov2.lvd142m")),
    "imagenet21k": InitSpec(
        name="imagenet21k", arch="vit_base_patch16_224.augreg_in21k",
        howto="download model.safetensors from https://huggingface.co/timm/vit_base_patch16_224.augreg_in21k"),
    # DINOv3 (Meta, 2025): self-supervised on LVD-1689M; patch 16, 4 register tokens, RoPE (no position table)
    "dinov3": InitSpec(
        name="dinov3", arch="vit_base_patch16_dinov3.lvd1689m",
        howto="download model.safetensors from https://huggingface.co/timm/vit_base_patch16_dinov3.lvd1689m"),
    # RAD-DINO (Microsoft): DINOv2 ViT-B/14 continued on chest radiographs. Dinov2Model: hidden 768, 12 layers and
    # heads, patch 14, no registers, GELU MLP, layer scale, LayerNorm eps 1e-6, 518 px (37 x 37 patches): config.json
    # of https://huggingface.co/microsoft/rad-dino (and of its microsoft/rad-dino-maira-2 twin); mean/std
    # 0.5307/0.2583 on every channel from its preprocessor_config.json (shortest edge 518, centre crop 518).
    "rad_dino": InitSpec(
        name="rad_dino", arch="vit_base_patch14_dinov2", hf_repo="microsoft/rad-dino",
        mean=(0.5307,) * 3, std=(0.2583,) * 3,
        howto=("download model.safetensors from https://huggingface.co/microsoft/rad-dino (transformers "
               "Dinov2Model layout, converted on load)")),
    # CXformer(B) (M42, MIDL 2025): DINOv2 ViT-B/14 with 4 registers (dinov2_vitb14_reg4), continued on 600k chest
    # radiographs at 518 px, GELU MLP, 12 heads: dinov2/configs/pretrain/vit_base_cxr.yaml of
    # https://github.com/m42-health/CXformer; last_hidden_state [1, 1374, 768] at 518 px in its hf_predict.py.
    # ImageNet mean/std: its training code's normalization (dinov2/data/transforms.py).
    "cxformer": InitSpec(
        name="cxformer", arch="vit_base_patch14_reg4_dinov2", hf_repo="m42-health/CXformer-base",
        mean=_IMAGENET_MEAN, std=_IMAGENET_STD,
        howto=("download model.safetensors from https://huggingface.co/m42-health/CXformer-base (transformers "
               "Dinov2WithRegistersModel layout, converted on load; CC BY-NC 4.0, research use only)")),
    "mimic": InitSpec(
        name="mimic", arch="vit_base_patch16_224", weights="file",
        howto=("run the pretraining pipeline (`kedro run --pipeline pretraining`), which registers the MIMIC-CXR "
               "model in MLflow and passes its best.safetensors here, or point to such a file yourself")),
    "ssl": InitSpec(
        name="ssl", arch="vit_base_patch16_224", weights="file",
        howto=("run the selfsupervised pipeline (`kedro run --pipelines selfsupervised`), which pretrains on your "
               "unlabeled training images with DINO and passes the teacher backbone here (docs/selfsupervised.md)")),
    "random": InitSpec(name="random", arch="vit_base_patch16_224", weights="none"),
}


def init_spec(spec: InitSpec | Mapping[str, Any] | str,
              registry: Mapping[str, InitSpec | Mapping[str, Any]] | None = None) -> InitSpec:
    """Resolve a name, a config dict or an ``InitSpec`` into an ``InitSpec``.

    A dict with a ``name`` that exists in the registry overrides that entry's fields (so
    ``{name: mimic, file: ...}`` or ``{name: dinov2, file: ...}`` just adds the file); a new name
    needs an ``arch``. ``registry`` adds to (or overrides) the built-in entries.
    """
    known: dict[str, InitSpec] = dict(BUILTIN_INITS)
    for key, value in (registry or {}).items():
        known[key] = init_spec({"name": key, **value} if isinstance(value, Mapping) else value, {})
    if isinstance(spec, InitSpec):
        return spec
    if isinstance(spec, str):
        if spec not in known:
            raise KeyError(f"unknown initialization {spec!r}; known: {sorted(known)}. Add an entry with at least "
                           "an `arch` (a timm model name or hf-hub:<repo>) to the inits configuration.")
        return known[spec]
    if not isinstance(spec, Mapping):
        raise TypeError(f"an initialization is a name, a dict or an InitSpec, got {type(spec).__name__}")
    allowed = {f.name for f in fields(InitSpec)}
    if unknown := sorted(set(spec) - allowed):
        raise ValueError(f"initialization {spec.get('name', '?')!r}: unknown key(s) {unknown}; "
                         f"allowed: {sorted(allowed)}")
    name = spec.get("name")
    if name is None:
        raise ValueError(f"initialization dict needs a `name`: {dict(spec)}")
    base = known.get(name)
    if base is None:
        if not spec.get("arch"):
            raise ValueError(f"initialization {name!r} is not in the registry ({sorted(known)}); a new entry needs an "
                             "`arch` (a timm model name or hf-hub:<repo>)")
        return InitSpec(**spec)
    return replace(base, **{k: v for k, v in spec.items() if k != "name"})
