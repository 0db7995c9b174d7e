"""Start-up time of the commands people type, this checkout against a baseline revision, side by side.

Three commands, each run ``--repeat`` times in fresh processes (the best time is kept: start-up is
what is measured, not a cold disk cache):

- ``cxrinit-predict --help``
- ``cxrinit-predict`` on two PNG files with a tiny model registered in a temporary MLflow store
- ``kedro run`` of one small node (the demo generator for one source, 4 patients) in a project copy

The baseline is the same commands with the code of ``--baseline`` (a git revision, default the last
commit before the start-up work) extracted by ``git archive``; both run in this virtual environment,
so only the code differs: that is both the like-for-like and the default setting (each side a
fresh process, as users start it). The last line, ``speedup: <ratio>x``, is the total of the three.
Usage:

    python benchmarks/startup.py [--baseline 252c6fd] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = "252c6fd"  # before lazy imports (issue 12)
PROJECT_FILES = ("pyproject.toml", "mlflow.yaml", "conf")


def extract(ref: str, dest: Path) -> Path:
    """The tree of ``ref`` under ``dest`` (git archive: no worktree bookkeeping)."""
    dest.mkdir(parents=True)
    archive = dest.parent / f"{dest.name}.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


def project_copy(tree: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = tree / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    (dest / "src").mkdir()  # Kedro wants the source folder; the code comes from PYTHONPATH
    return dest


def register_tiny_model(work: Path) -> tuple[str, list[Path]]:
    """A 2-block ViT registered as the pipelines register models, and two PNG files; returns (tracking URI, files)."""
    import cv2
    import mlflow
    import numpy as np
    import timm
    import torch

    from cxrinit import tracking
    from cxrinit.imaging import Recipe
    from cxrinit.models import InputContract

    shutil.copy(REPO / "mlflow.yaml", work / "mlflow.yaml")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    os.environ["MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT"] = "1"
    mlflow.set_tracking_uri(uri)
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=2,
                              num_classes=2).eval()
    contract = InputContract(3, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "init")
    experiment = mlflow.create_experiment("startup", artifact_location=(work / "mlartifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        tracking.register_model(tracking.load_config(work), model, name="cxrinit-startup-tiny",
                                contract=contract.to_dict(), findings=["a", "b"],
                                selection={"metric": "val_auroc_mean", "value": 0.5, "epoch": 1},
                                lineage={"init": "tiny", "source": "benchmark"},
                                preprocessing={"recipe": Recipe().to_dict(), "store_size": 48})
    rng = np.random.default_rng(0)
    files = []
    for i in range(2):
        path = work / f"film{i}.png"
        cv2.imwrite(str(path), rng.integers(0, 255, (256, 240), dtype=np.uint8))
        files.append(path)
    return uri, files


def best_of(cmd: list[str], *, src: Path, cwd: Path, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "KEDRO_DISABLE_TELEMETRY": "true",
           "DVC_NO_ANALYTICS": "1"}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}) with {src}:\n{done.stderr[-3000:]}")
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare against")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cxrinit-startup-") as tmp:
        tmp = Path(tmp)
        trees = {"baseline": extract(args.baseline, tmp / "baseline"), "ours": REPO}
        uri, files = register_tiny_model(tmp)
        python = sys.executable
        rows = []
        for label in ("help", "predict", "kedro"):
            cell = {}
            for side, tree in trees.items():
                if label == "help":
                    cmd, cwd = [python, "-m", "cxrinit.inference", "--help"], tmp
                elif label == "predict":
                    cmd = [python, "-m", "cxrinit.inference", "--model", "cxrinit-startup-tiny", "--tracking-uri",
                           uri, "--device", "cpu", "-q", "--out", str(tmp / f"{side}.csv"), *map(str, files)]
                    cwd = tmp
                else:
                    cwd = project_copy(tree, tmp / f"project-{side}")
                    cmd = [python, "-m", "kedro", "run", "--env", "demo", "--pipelines", "demo", "--namespaces",
                           "demo.nih", "--params", "demo.workers=1,demo.sources.nih.n_patients=4"]
                cell[side] = best_of(cmd, src=tree / "src", cwd=cwd, repeat=args.repeat)
                print(f"{label:8s} {side:9s} {cell[side]:6.2f} s", flush=True)
            rows.append((label, cell["baseline"], cell["ours"]))
    print()
    print(f"{'command':30s} {'baseline s':>10s} {'ours s':>8s} {'speed-up':>9s}")
    names = {"help": "cxrinit-predict --help", "predict": "cxrinit-predict, 2 files",
             "kedro": "kedro run, one small node"}
    for label, base, ours in rows:
        print(f"{names[label]:30s} {base:10.2f} {ours:8.2f} {base / ours:8.1f}x")
    total_base, total_ours = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"ratio (baseline / ours, all three): {total_base / total_ours:.2f}x "
          f"({statistics.fmean(r[1] / r[2] for r in rows):.2f}x mean per command)")
    print(f"speedup: {total_base / total_ours:.2f}x (like-for-like = default: the same commands, this environment, "
          "fresh processes; only the code differs)")


if __name__ == "__main__":
    main()
