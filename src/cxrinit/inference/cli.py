"""``cxrinit-predict`` / ``python -m cxrinit.inference``: a registered model's probabilities for image files."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas, torch and MLflow are imported when needed: --help answers at once
    import pandas as pd

log = logging.getLogger("cxrinit.inference")

_TABLE_SUFFIXES = (".csv", ".parquet")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cxrinit-predict",
        description="Predict chest radiographs (DICOM/PNG/JPEG files or folders of them) with a model registered "
                    "by cxrinit, preprocessing them exactly as its training images were. Files that cannot be "
                    "read are listed in the report and do not stop the run. Exit code: 0 when at least one input "
                    "was predicted, 1 when none was (the report says why), 2 when the model cannot be loaded.")
    p.add_argument("inputs", nargs="+", metavar="FILES_OR_FOLDERS", help="image files, or folders searched "
                   "recursively for .dcm .dicom .png .jpg .jpeg")
    p.add_argument("--model", required=True, help="registered model name (cxrinit-<source>-<init>, e.g. "
                   "cxrinit-vindr-dinov2), models:/<name>@<alias>, models:/<name>/<version>, or a trained cell's "
                   "folder (e.g. data/06_models/vindr/dinov2, as `dvc pull` restores it: no registry needed)")
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--alias", help="registry alias to use (default: best)")
    sel.add_argument("--version", type=int, help="model version number instead of an alias")
    p.add_argument("--tracking-uri", help="MLflow tracking store (default: MLFLOW_TRACKING_URI, else the "
                   "tracking_uri of ./mlflow.yaml)")
    p.add_argument("--out", required=True, type=Path, help="probabilities table, .csv or .parquet")
    p.add_argument("--report", type=Path, help="per-file status table, .csv or .parquet "
                   "(default: next to --out, named <out>.report.csv)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default 32)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--workers", type=int, default=1, help="decoder processes (default 1)")
    p.add_argument("--store-size", type=int, help="only for model versions registered without the "
                   "'preprocessing' tag: the pixel-store resolution the model was trained on")
    p.add_argument("--recipe", help="only for versions without the 'preprocessing' tag: the store's recipe as "
                   "JSON (the 'recipe' of the store's fingerprint.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code: 0 when at least one input was predicted (some may be
    unreadable: see the report), 1 when none was, 2 when the model cannot be loaded."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for option, path in (("--out", args.out), ("--report", args.report)):
        if path is not None and path.suffix.lower() not in _TABLE_SUFFIXES:
            parser.error(f"{option} {path}: use a .csv or .parquet file name")
    if args.batch_size < 1 or args.workers < 1:
        parser.error("--batch-size and --workers must be at least 1")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from mlflow.exceptions import MlflowException

    from cxrinit.imaging.transforms import Recipe

    from .cells import is_cell, load_cell
    from .files import expand_inputs
    from .model import ModelNotFound, ModelTagsError
    from .predict import predict_inputs
    from .registry import load_model

    try:
        recipe = Recipe.from_dict(json.loads(args.recipe)) if args.recipe else None
    except (ValueError, TypeError) as err:
        parser.error(f"--recipe: {err}")
    inputs, skipped = expand_inputs(args.inputs)
    if not inputs:
        print("error: no image files found in " + ", ".join(args.inputs) + " (folders are searched for "
              ".dcm .dicom .png .jpg .jpeg)", file=sys.stderr)
        return 1
    try:
        if is_cell(args.model):
            if args.alias or args.version or args.tracking_uri or recipe or args.store_size:
                parser.error(f"--model {args.model} is a cell folder: --alias, --version, --tracking-uri, --recipe "
                             "and --store-size select or describe registered models only")
            model = load_cell(args.model, device=args.device)
        else:
            model = load_model(args.model, alias=args.alias, version=args.version, tracking_uri=args.tracking_uri,
                               device=args.device, recipe=recipe, store_size=args.store_size)
    except (ModelNotFound, ModelTagsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MlflowException as err:  # e.g. a tracking server that does not answer
        print(f"error: MLflow could not provide {args.model} from {args.tracking_uri or 'the tracking store'}: "
              f"{err.message}", file=sys.stderr)
        return 2
    probs, report = predict_inputs(model, inputs, skipped, batch_size=args.batch_size, workers=args.workers)
    report_path = args.report or args.out.with_name(args.out.stem + ".report.csv")
    _write(probs, args.out)
    _write(report, report_path)
    bad = Counter(report["status"][report["status"] != "ok"])
    which = model.spec.uri if model.spec.version == "cell" else f"{model.spec.uri} (version {model.spec.version})"
    print(f"{which}: {len(probs)} of {len(report)} inputs predicted -> "
          f"{args.out}; report -> {report_path}" + (f"; not predicted: {dict(sorted(bad.items()))}" if bad else ""),
          file=sys.stderr)
    if not len(probs):
        print(f"error: none of the {len(report)} inputs could be predicted; {report_path} says why for each",
              file=sys.stderr)
        return 1
    return 0


def _write(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)
