"""Run the self-supervised pretraining from a YAML/JSON file, outside Kedro (one process, or DDP under torchrun).

    python -m cxrinit.selfsupervised.cli --config ssl.yaml
    torchrun --nproc-per-node 8 -m cxrinit.selfsupervised.cli --config ssl.yaml

The file::

    init: random                     # start weights: a registry name or a dict of InitSpec fields
    inits: {}                        # registry entries, e.g. {dinov2: {file: /weights/dinov2_vitb14_pretrain.pth}}
    stores:                          # the unlabeled images: one resolution folder of a pixel store each
      - {name: vindr, store: data/03_primary/vindr/pixels/224, splits: data/05_model_input/vindr/splits.parquet}
      - {name: archive, store: data/06_models/ssl_init/folders/archive-1a2b3c4d5e6f/224}    # no splits: every usable image
    img_size: 224
    out_dir: data/06_models/ssl_init
    dino: {}                         # DinoOptions, CropOptions, SSLTrainOptions, ProbeOptions fields
    crops: {}
    train: {epochs: 100, batch_size: 512, precision: bf16}
    probe: {k: 20}                   # with probe_data: a labelled source's store, labels, splits
    probe_data: {source: vindr, store: data/03_primary/vindr/pixels/224,
                 labels: data/05_model_input/vindr/labels.parquet, splits: data/05_model_input/vindr/splits.parquet}
    device: auto
    resume: true

A store with ``splits`` contributes its training split only (a training patient who is also a
validation or test patient is refused). The Kedro pipeline writes the same files; its card is the
tracked result, this command's is ``out_dir/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import CropOptions, DinoOptions, ProbeOptions, SSLTrainOptions

log = logging.getLogger(__name__)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    store: Path
    splits: Path | None = None


class _ProbeData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    store: Path
    labels: Path
    splits: Path
    findings: list[str] | None = None


class SSLFileConfig(BaseModel):
    """The file's fields (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    init: str | dict[str, Any] = "random"
    inits: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stores: list[_Part] = Field(min_length=1)
    img_size: int = Field(default=224, ge=16, le=4096)
    normalization: Literal["init", "paper"] = "init"
    out_dir: Path
    dino: DinoOptions = Field(default_factory=DinoOptions)
    crops: CropOptions = Field(default_factory=CropOptions)
    train: SSLTrainOptions = Field(default_factory=SSLTrainOptions)
    probe: ProbeOptions = Field(default_factory=ProbeOptions)
    probe_data: _ProbeData | None = None
    device: str = "auto"
    resume: bool = True


def _table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def load_config(path: str | Path, **overrides: Any) -> SSLFileConfig:
    """The file's configuration (``overrides`` replace its keys); ``ValueError`` names every bad key."""
    import yaml

    from cxrinit.config.base import describe

    path = Path(path)
    raw = json.loads(path.read_text()) if path.suffix.lower() == ".json" else yaml.safe_load(path.read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of options, got {type(raw).__name__}")
    try:
        return SSLFileConfig.model_validate({**raw, **{k: v for k, v in overrides.items() if v is not None}})
    except ValidationError as err:
        lines = "\n".join(f"  - {p}" for p in describe(err, SSLFileConfig))
        raise ValueError(f"{path}: invalid self-supervised configuration:\n{lines}") from None


def build_cell(config: SSLFileConfig) -> Any:
    """The :class:`~cxrinit.selfsupervised.SSLCell` the file describes (stores opened, rows chosen)."""
    from cxrinit.imaging.store import PixelStore
    from cxrinit.training.data import assemble_split

    from .cell import ProbeData, SSLCell
    from .data import store_rows

    parts = []
    for part in config.stores:
        rows, dropped = store_rows(part.name, PixelStore(part.store), _table(part.splits) if part.splits else None)
        log.info("%s: %d images%s", part.name, len(rows), f" (left out: {dropped})" if dropped else "")
        parts.append(rows)
    probe = None
    if config.probe_data is not None:
        d = config.probe_data
        store, labels, splits = PixelStore(d.store), _table(d.labels), _table(d.splits)
        train = assemble_split(store, labels, splits, "train", d.findings)
        probe = ProbeData(d.source, store.images, train, assemble_split(store, labels, splits, "val", train.findings))
    return SSLCell(init=config.init, parts=tuple(parts), img_size=config.img_size, out_dir=config.out_dir,
                   dino=config.dino, crops=config.crops, train=config.train, probe=config.probe, probe_data=probe,
                   inits=config.inits, normalization=config.normalization, device=config.device,
                   resume=config.resume, registry_key="inits")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrinit.selfsupervised.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML or JSON configuration")
    parser.add_argument("--out-dir", help="overrides out_dir of the configuration")
    parser.add_argument("--device", help="overrides device (auto / cpu / cuda)")
    args = parser.parse_args(argv)
    from cxrinit.training.distributed import cleanup, init_distributed

    from .cell import pretrain_cell

    config = load_config(args.config, out_dir=args.out_dir, device=args.device)
    ctx = init_distributed(config.device)
    logging.basicConfig(level=logging.INFO if ctx.is_main else logging.WARNING,
                        format=f"%(asctime)s [rank {ctx.rank}] %(levelname)s %(name)s: %(message)s")
    try:
        run = pretrain_cell(build_cell(config), ctx=ctx)
    finally:
        cleanup()
    if ctx.is_main:
        summary = {k: v for k, v in run.summary.items() if k != "history"}
        (config.out_dir / "history.json").write_text(json.dumps(run.summary["history"], indent=1))
        (config.out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        print(json.dumps({k: summary[k] for k in ("best_weights", "epochs_run", "final_loss")}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
