"""A trained cell straight from its folder (what ``dvc pull`` restores under ``data/06_models/``), no registry.

A cell's card (``<models_dir>/<source>/<init>.card.json``) records everything its registered model
carries as tags: architecture, findings, input contract and preprocessing; its best weights lie in
``<init>/checkpoints/best.safetensors``. :func:`load_cell` builds the same network from them, so
``cxrinit-predict --model data/06_models/vindr/dinov2`` predicts exactly as the registered model does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from cxrinit.imaging.transforms import Recipe
from cxrinit.models.contract import InputContract
from cxrinit.provenance import Provenance

from .model import LoadedModel, ModelNotFound, ModelSpec

CARD_SUFFIX = ".card.json"


def cell_card(path: str | Path) -> tuple[Path, dict]:
    """The card of the cell at ``path``: the cell's folder (its card lies beside it) or the card itself."""
    path = Path(path)
    card = path if path.name.endswith(CARD_SUFFIX) else path.with_name(path.name + CARD_SUFFIX)
    if not card.is_file():
        raise ModelNotFound(f"{path}: no trained cell here (no {card.name} beside it); a cell folder is "
                            "<models_dir>/<source>/<init>, e.g. data/06_models/vindr/dinov2, as the finetuning "
                            "pipeline writes (or `dvc pull` restores) it")
    return card, json.loads(card.read_text())


def is_cell(path: str | Path) -> bool:
    """Whether ``path`` names a cell folder or card (rather than a registered model's name): a card, a folder
    beside its card, or any path with a slash (a mistyped folder then gets the cell's "no trained cell here")."""
    path = Path(path)
    if path.name.endswith(CARD_SUFFIX) or path.with_name(path.name + CARD_SUFFIX).is_file():
        return True
    # A path (not a registered name, which has no slash): a mistyped cell folder gets the cell's error
    text = str(path)
    return not text.startswith("models:/") and ("/" in text or os.sep in text)


def load_cell(path: str | Path, *, device: str | torch.device = "auto") -> LoadedModel:
    """The network of the cell at ``path`` (folder or card) on ``device``, with its card as :class:`ModelSpec`.

    Relative paths in the card (its best weights) are relative to the project, which is where a card
    under ``data/`` says it is: the folder holding ``data/``. Raises :class:`ModelNotFound` for a cell
    that did not train or whose weights are missing.
    """
    from cxrinit.models.build import build_model
    from cxrinit.training.distributed import resolve_device

    card_path, card = cell_card(path)
    where = str(card_path)
    if card.get("skipped"):
        raise ModelNotFound(f"{where}: this cell did not train: {card.get('reason', 'no reason recorded')}")
    weights = _project_path(card_path, card.get("best_weights"))
    if weights is None or not weights.is_file():
        raise ModelNotFound(f"{where}: its best weights {card.get('best_weights')!r} are not here "
                            "(`dvc pull` restores them with the cell)")
    contract = InputContract.from_dict(card["contract"])
    findings = list(card["findings"])
    spec = {"name": card["init"], "arch": card["arch"], "model_kwargs": card.get("model_kwargs") or {},
            "weights": "file", "file": str(weights), "head": "keep"}
    model, built = build_model(spec, len(findings), contract.size, labels=findings,
                               normalization=contract.normalization, registry_key="init")
    if built.to_dict() != contract.to_dict():
        raise ModelNotFound(f"{where}: rebuilt input contract {built.to_dict()} differs from the card's "
                            f"{contract.to_dict()}; the weights file does not belong to this card")
    prep = card.get("preprocessing") or {}
    spec_ = ModelSpec(name=f"{card.get('source')}/{card.get('init')}", version="cell", uri=where,
                      contract=contract, findings=findings, recipe=Recipe.from_dict(prep["recipe"]),
                      store_size=int(prep["store_size"]),
                      tags=Provenance(**card["provenance"]).tags() if card.get("provenance") else {})
    dev = resolve_device(device)
    return LoadedModel(spec_, model.to(dev).eval(), dev)


def _project_path(card_path: Path, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if path.is_absolute():
        return path
    # the card lies in <project>/<data_dir>/06_models/<source>/; the path is relative to <project>
    for folder in card_path.resolve().parents:
        if (folder / path).is_file():
            return folder / path
    return Path.cwd() / path


__all__ = ["CARD_SUFFIX", "cell_card", "is_cell", "load_cell"]
