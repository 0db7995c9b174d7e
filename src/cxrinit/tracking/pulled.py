"""``cxrinit-register``: put trained cells from their folders into this machine's MLflow registry.

``dvc pull`` restores every cell's folder and card (``data/06_models/``) but not the MLflow store
of the machine that trained them. This registers each trained cell found under the given folders
exactly as the pipelines do (same name, tags, alias rule, weights file as an artifact), in a run of
the project's experiment tagged ``stage: register``. A cell whose weights are already registered
under its name (tag ``weights_sha256``) is skipped, so running it twice registers nothing new.
Cards are not modified: they stay as DVC restored them. Initializations are registered first, and
a MIMIC-arm model's ``lineage.from_model`` names the version its initialization has in *this* store.

    cxrinit-register data/06_models                  # the study's cells (mlflow.yaml's store)
    cxrinit-register --env demo data/demo/06_models  # the demo's, into the demo's own store
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from cxrinit.provenance import Provenance

from .config import TrackingConfig, load_config
from .registry import file_sha256, register_model

log = logging.getLogger(__name__)


def register_cells(folders: list[Path], config: TrackingConfig) -> list[dict[str, Any]]:
    """Register every trained cell whose card lies under ``folders``; returns one row per cell:
    ``card``, ``name``, ``version`` (None when skipped) and ``status`` (registered / already / why not)."""
    import mlflow
    from mlflow import MlflowClient

    from cxrinit.inference.cells import CARD_SUFFIX, cell_card, load_cell

    mlflow.set_tracking_uri(config.tracking_uri)
    if mlflow.get_experiment_by_name(config.experiment) is None:
        mlflow.create_experiment(config.experiment, artifact_location=config.artifact_location)
    experiment = mlflow.set_experiment(config.experiment)
    client = MlflowClient()
    rows = []
    paths = sorted({c for f in folders for c in (Path(f).rglob(f"*{CARD_SUFFIX}") if Path(f).is_dir() else [Path(f)])})
    # Initializations first: a MIMIC-arm cell's lineage names the version its initialization gets *here*
    cards = sorted(((path, cell_card(path)[1]) for path in paths),
                   key=lambda pc: pc[1].get("stage") not in ("pretraining", "selfsupervised"))
    versions: dict[str, str] = {}  # "<name>/<version on the training machine>" -> "<name>/<version here>"
    for card_path, card in cards:
        row: dict[str, Any] = {"card": str(card_path), "name": None, "version": None}
        trained_as = card.get("registry") or {}
        name = (card.get("registry") or {}).get("name")
        if card.get("skipped"):
            rows.append({**row, "status": "did not train"})
            continue
        if name is None:
            if card.get("stage") != "finetuning":
                rows.append({**row, "status": "no registered name in the card (tracking was off)"})
                continue
            name = config.model_name("model_name", source=card["source"], init=card["init"])
        weights = _best_weights(card_path, card)
        if card.get("stage") == "selfsupervised":  # a backbone (embeddings out), no classifier
            from cxrinit.models import build_model

            module, _ = build_model({"name": card.get("init", "ssl"), "arch": card["arch"], "file": str(weights),
                                     "model_kwargs": card.get("model_kwargs") or {}}, 0, int(card["contract"]["size"]))
            selection = {"metric": "last_epoch", "value": None, "epoch": card.get("epochs_run")}
        else:
            try:
                module = load_cell(card_path, device="cpu").module
            except LookupError as err:
                rows.append({**row, "name": name, "status": str(err)})
                continue
            selection = card["selection"]
        digest = file_sha256(weights)
        existing = [v.version for v in client.search_model_versions(f"name='{name}'")
                    if v.tags.get("weights_sha256") == digest]
        if existing:
            rows.append({**row, "name": name, "version": str(existing[0]), "status": "already registered"})
            versions[f"{trained_as.get('name')}/{trained_as.get('version')}"] = f"{name}/{existing[0]}"
            continue
        lineage = dict(card.get("lineage") or {"init": card.get("init", "")})
        if lineage.get("from_model"):
            lineage["from_model"] = versions.get(lineage["from_model"], lineage["from_model"])
        provenance = Provenance(**card["provenance"]).tags() if card.get("provenance") else None
        with mlflow.start_run(experiment_id=experiment.experiment_id, run_name=f"register {card_path.stem}"):
            mlflow.set_tags({"stage": "register", "init": card.get("init", ""), "source": card.get("source", ""),
                             "registered_from": Path(card_path).as_posix()})
            out = register_model(config, module, name=name, contract=card["contract"],
                                 findings=list(card.get("findings") or []), selection=selection,
                                 lineage={k: str(v) for k, v in lineage.items()},
                                 files={"weights": weights}, preprocessing=card["preprocessing"], tags=provenance)
        versions[f"{trained_as.get('name')}/{trained_as.get('version')}"] = f"{name}/{out['version']}"
        rows.append({**row, "name": name, "version": out["version"], "status": "registered"})
    if config.project_path is not None:
        from .portable import relativize_store

        relativize_store(config.tracking_uri, config.project_path)
    return rows


def _best_weights(card_path: Path, card: dict[str, Any]) -> Path:
    from cxrinit.inference.cells import _project_path

    path = _project_path(card_path, card["best_weights"])
    assert path is not None
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cxrinit-register", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders searched for cell cards (*.card.json), "
                        "e.g. data/06_models, or single cards")
    parser.add_argument("--env", help="the Kedro environment whose MLflow settings apply (mlflow.yaml "
                        "environments.<env>; the demo: demo)")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="the project folder (default: here)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    missing = [str(f) for f in args.folders if not f.exists()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.env and not (args.project / "conf" / args.env).is_dir():
        known = sorted(p.name for p in (args.project / "conf").iterdir() if p.is_dir()) \
            if (args.project / "conf").is_dir() else []
        print(f"error: --env {args.env}: no such Kedro environment in {args.project / 'conf'} (there: "
              f"{', '.join(known) or 'none'}); its cells would go into the wrong store", file=sys.stderr)
        return 2
    config = load_config(args.project, args.env)
    if not config.enabled:
        print("error: tracking is off (mlflow.yaml enabled: false): there is no registry to register into",
              file=sys.stderr)
        return 2
    rows = register_cells(args.folders, config)
    if not rows:
        print(f"error: no cell card (*.card.json) under {', '.join(map(str, args.folders))}; the study's cells are "
              "in data/06_models/<source>/, the demo's in data/demo/06_models/<source>/ (with --env demo)",
              file=sys.stderr)
        return 1
    for row in rows:
        model = f" ({row['name']}" + (f" version {row['version']}" if row["version"] else "") + ")" if row["name"] else ""
        print(f"{row['card']}: {row['status']}{model}")
    registered = sum(r["status"] == "registered" for r in rows)
    already = sum(r["status"] == "already registered" for r in rows)
    print(f"{registered} registered, {already} already there, {len(rows) - registered - already} not registrable; "
          f"store {config.tracking_uri}", file=sys.stderr)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
