"""Run one training cell (one initialization x one source) from a YAML/JSON file, outside Kedro.

    python -m cxrinit.training.cli --config cell.yaml
    torchrun --nproc-per-node 8 -m cxrinit.training.cli --config cell.yaml      # DDP, one process per GPU

The file holds the fields of :class:`~cxrinit.training.cell.CellConfig`::

    init: dinov2                    # a registry name, or a dict (name, arch, weights, file, head, ...)
    inits: {}                       # extra registry entries, e.g. {dinov2: {file: /weights/dinov2_vitb14_pretrain.pth}}
    store: data/03_primary/vindr/pixels/224     # one resolution of a pixel store
    labels: data/05_model_input/vindr/labels.parquet    # image_id x findings, 1 / 0 / NaN
    splits: data/05_model_input/vindr/splits.parquet    # image_id, patient_id, split
    findings: null                  # a subset / order of label columns; null = all
    img_size: 224
    normalization: init             # or paper
    preset: default                 # or paper
    train: {epochs: 100, batch_size: 32}       # any TrainConfig field
    out_dir: data/06_models/vindr/dinov2
    device: auto                    # auto / cpu / cuda
    predict: [val, test]            # prediction tables written after training (best weights)
    resume: true                    # continue out_dir's checkpoint (false: start over)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .cell import CellConfig, run_cell
from .distributed import cleanup, init_distributed

log = logging.getLogger(__name__)


def load_config(path: str | Path, **overrides: Any) -> CellConfig:
    """A :class:`CellConfig` from a YAML or JSON file (``overrides`` replace its keys).

    Raises ``ValueError`` naming the file and every bad key (unknown keys with the closest valid one).
    """
    from cxrinit.config.base import describe

    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".json":
        raw = json.loads(text)
    else:
        import yaml

        raw = yaml.safe_load(text)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a mapping of options, got {type(raw).__name__}")
    try:
        return CellConfig.model_validate({**raw, **{k: v for k, v in overrides.items() if v is not None}})
    except ValidationError as err:
        lines = "\n".join(f"  - {p}" for p in describe(err, CellConfig))
        raise ValueError(f"{path}: invalid cell configuration:\n{lines}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrinit.training.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML or JSON cell configuration")
    parser.add_argument("--out-dir", help="overrides out_dir of the configuration")
    parser.add_argument("--device", help="overrides device (auto / cpu / cuda)")
    args = parser.parse_args(argv)
    config = load_config(args.config, out_dir=args.out_dir, device=args.device)
    ctx = init_distributed(config.device)
    logging.basicConfig(level=logging.INFO if ctx.is_main else logging.WARNING,
                        format=f"%(asctime)s [rank {ctx.rank}] %(levelname)s %(name)s: %(message)s")
    try:
        summary = run_cell(config, ctx=ctx)
    finally:
        cleanup()
    if ctx.is_main:
        print(json.dumps({k: summary[k] for k in ("init", "epochs_run", "best_epoch", "selection", "checkpoint")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
