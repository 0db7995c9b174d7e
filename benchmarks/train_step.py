"""Training-step throughput and peak memory per initialization's architecture (random weights: nothing downloads).

One step = uint8 batch -> on-device input pipeline (study augmentation) -> forward/backward under autocast ->
masked pos-weighted BCE -> AdamW (fused on CUDA). bf16 autocast on CUDA, fp32 on CPU (``--precision`` overrides).

    python benchmarks/train_step.py                                  # dinov2 + imagenet21k at 224 px (GPU)
    python benchmarks/train_step.py --archs vit_tiny_patch16_224 --steps 3 --batch-size 8   # a quick CPU check
    python benchmarks/train_step.py --inits dinov2,imagenet21k --batch-size 128 --compile
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import time

import numpy as np
import torch

from cxrinit.models import build_model, describe, init_spec
from cxrinit.training.augment import AugmentConfig
from cxrinit.training.distributed import resolve_device
from cxrinit.training.loader import InputPipeline
from cxrinit.training.loss import masked_bce
from cxrinit.training.predict import autocast


def measure(spec, args: argparse.Namespace, device: torch.device) -> dict:
    """Images/s and peak memory of ``args.steps`` timed steps after ``args.warmup`` untimed ones."""
    model, contract = build_model(spec, args.num_classes, args.img_size, normalization="init", seed=0)
    model.to(device).train()
    params = describe(model)["params"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True if device.type == "cuda" else None)
    net = torch.compile(model) if args.compile else model
    inputs = InputPipeline(contract, device, AugmentConfig(), compile=args.compile)
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(rng.integers(0, 256, (args.batch_size, args.store_size, args.store_size), np.uint8))
    labels = torch.from_numpy((rng.random((args.batch_size, args.num_classes)) < 0.3).astype(np.float32))
    labels[rng.random(labels.shape) < 0.1] = float("nan")
    if device.type == "cuda":
        pixels, labels = pixels.pin_memory(), labels.pin_memory()
    pos_weight = torch.full((args.num_classes,), 2.0, device=device)

    def step() -> None:
        x = inputs(pixels, generator)
        y = labels.to(device, non_blocking=True)
        with autocast(device, args.precision):
            logits = net(x)
        masked_bce(logits.float(), y, pos_weight).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (KiB on Linux)
    seconds = time.perf_counter() - start
    return {"arch": spec.arch, "params_m": params / 1e6, "images_per_s": args.batch_size * args.steps / seconds,
            "step_ms": 1000 * seconds / args.steps, "peak_mem_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inits", default="dinov2,imagenet21k", help="registry names (their architectures)")
    parser.add_argument("--archs", default="", help="timm architecture names instead of --inits")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--store-size", type=int, default=0, help="stored image side (default: --img-size)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=14)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precision", default="auto", help="auto (bf16 on CUDA, fp32 on CPU) / fp32 / bf16 / fp16")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model and the input pipeline")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    args.store_size = args.store_size or args.img_size
    logging.basicConfig(level=logging.WARNING)
    device = resolve_device(args.device)
    if args.archs:
        specs = [init_spec({"name": "-", "arch": a, "weights": "none"}) for a in args.archs.split(",")]
    else:
        specs = [dataclasses.replace(init_spec(n), weights="none", file=None) for n in args.inits.split(",")]
    print(f"device {device}, {args.img_size} px, batch {args.batch_size}, precision {args.precision}, "
          f"compile {args.compile}, {args.steps} timed steps after {args.warmup} warm-up")
    header = f"{'init':<14}{'architecture':<36}{'params (M)':>11}{'images/s':>11}{'step (ms)':>11}{'peak mem (MB)':>15}"
    rows = []
    for spec in specs:
        r = measure(spec, args, device)
        rows.append(f"{spec.name[:13]:<14}{r['arch'][:35]:<36}{r['params_m']:>11.1f}{r['images_per_s']:>11.1f}"
                    f"{r['step_ms']:>11.1f}{r['peak_mem_mb']:>15.0f}")
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(header)
    print("\n".join(rows))
    if device.type != "cuda":
        print("(CPU: peak memory is the process's peak resident set size)")


if __name__ == "__main__":
    main()
