"""The DINO pretraining loop: multi-crop views, student/teacher with EMA, lightly's losses, a resumable
checkpoint every epoch and the teacher's backbone saved as the initialization.

Every epoch's randomness (sampling order and crops) is drawn from ``(seed, epoch)`` alone, so a run
resumed from its checkpoint continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cxrinit.models.contract import InputContract
from cxrinit.training.checkpoint import LAST, load_state, save_state, save_weights
from cxrinit.training.determinism import deterministic_mode
from cxrinit.training.distributed import DistContext, all_reduce_sum, barrier
from cxrinit.training.predict import autocast

from .config import DinoOptions, SSLTrainOptions
from .data import UnlabeledImages, seed_worker
from .model import Student, embedding_dim, make_teacher

log = logging.getLogger(__name__)

#: The teacher's backbone after the last epoch: what fine-tuning starts from.
BACKBONE = "backbone.safetensors"
CHECKPOINT_FORMAT = 1
#: Options that may change between a checkpoint and its resumption (more epochs, faster kernels, loading).
_RESUMABLE = {"epochs", "compile", "workers"}


@dataclass
class SSLRun:
    """What a pretraining run ended with: per-epoch ``history``, the checkpoint, the teacher backbone."""

    epochs_run: int
    history: list[dict[str, float]]
    checkpoint: Path
    weights: Path
    backbone: nn.Module
    resumed_from: int = 0


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch's draws on one rank (crops, order): a function of these numbers only."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def pretrain_dino(backbone: nn.Module, contract: InputContract, images: UnlabeledImages, dino: DinoOptions,
                  train: SSLTrainOptions, out_dir: str | Path, *, ctx: DistContext,
                  callbacks: Iterable[Any] = (), resume: bool = True,
                  metadata: Mapping[str, Any] | None = None, resume_key: Mapping[str, Any] | None = None) -> SSLRun:
    """DINO on ``images`` starting from ``backbone`` (a timm model with ``num_classes=0``, accepting any
    view size: ``dynamic_img_size=True``).

    Writes ``out_dir/last.pt`` (everything to resume) and ``out_dir/backbone.safetensors`` (the teacher's
    backbone, timm keys, with ``metadata`` and the contract) after every epoch; rank 0 writes, logs and
    calls ``callbacks`` (``(epoch, metrics)``). ``resume_key``: what else a checkpoint must have been written
    with to be continued (the views, the start weights, which images), each compared by its key. Raises ``ValueError`` when there are fewer images than
    one batch, or when ``last.pt`` was written by a run with other settings.
    """
    with deterministic_mode(train.deterministic, ctx.device):
        return _Pretraining(backbone, contract, images, dino, train, Path(out_dir), ctx, list(callbacks),
                            dict(metadata or {}), dict(resume_key or {})).run(resume)


class _Pretraining:
    def __init__(self, backbone: nn.Module, contract: InputContract, images: UnlabeledImages, dino: DinoOptions,
                 train: SSLTrainOptions, out: Path, ctx: DistContext, callbacks: list[Any],
                 metadata: dict[str, Any], resume_key: dict[str, Any]) -> None:
        from lightly.loss import DINOLoss, KoLeoLoss

        self.contract, self.images, self.dino, self.cfg, self.out = contract, images, dino, train, out
        self.ctx, self.callbacks, self.metadata, self.device = ctx, callbacks, metadata, ctx.device
        self.resume_key = resume_key
        if train.batch_size % ctx.world_size:
            raise ValueError(f"batch_size {train.batch_size} does not split over {ctx.world_size} processes; make "
                             "it a multiple of the number of GPUs")
        self.micro = train.batch_size // ctx.world_size
        if len(images) < train.batch_size:
            raise ValueError(f"{len(images)} images for pretraining, fewer than one batch of {train.batch_size}: "
                             "lower selfsupervised.train.batch_size or add images (selfsupervised.sources / folders)")
        torch.manual_seed(train.seed)
        self.student = Student(backbone, embedding_dim(backbone), dino).to(self.device)
        self.teacher = make_teacher(self.student, dino).to(self.device)
        self.criterion = DINOLoss(output_dim=dino.out_dim, warmup_teacher_temp=dino.warmup_teacher_temp,
                                  teacher_temp=dino.teacher_temp,
                                  warmup_teacher_temp_epochs=dino.warmup_teacher_temp_epochs,
                                  student_temp=dino.student_temp, center_momentum=dino.center_momentum).to(self.device)
        self.koleo = KoLeoLoss() if dino.koleo_weight > 0 else None
        self.steps_per_epoch = len(images) // train.batch_size
        self.total_steps = train.epochs * self.steps_per_epoch
        self.optimizer = self._optimizer()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=train.precision == "fp16")
        net: nn.Module = self.student
        if ctx.enabled:
            net = nn.parallel.DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.net = torch.compile(net) if train.compile else net
        self.epoch, self.history = 0, []

    def _optimizer(self) -> torch.optim.Optimizer:
        from timm.optim import param_groups_weight_decay

        backbone = self.student.backbone
        skip = backbone.no_weight_decay() if hasattr(backbone, "no_weight_decay") else set()
        groups = param_groups_weight_decay(self.student, self.cfg.weight_decay,
                                           no_weight_decay_list={f"backbone.{k}" for k in skip})
        return torch.optim.AdamW(groups, lr=self._peak_lr(), fused=(self.device.type == "cuda") or None)

    def _peak_lr(self) -> float:
        return self.cfg.lr * self.cfg.batch_size / 256  # DINO's linear scaling rule

    def _schedule(self, step: int) -> tuple[float, float, float]:
        """(lr, weight decay, teacher momentum) at optimizer step ``step`` (DINO's schedules)."""
        from lightly.utils.scheduler import cosine_schedule

        cfg, total = self.cfg, max(self.total_steps, 1)
        warmup = int(round(cfg.warmup_epochs * self.steps_per_epoch))
        if step < warmup:
            lr = self._peak_lr() * (step + 1) / warmup
        else:
            lr = float(cosine_schedule(step - warmup, max(total - warmup, 1), self._peak_lr(), cfg.min_lr))
        wd = float(cosine_schedule(step, total, cfg.weight_decay, cfg.weight_decay_end))
        momentum = float(cosine_schedule(step, total, self.dino.momentum_start, self.dino.momentum_end))
        return lr, wd, momentum

    # -- checkpoint -------------------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        return {"dino": self.dino.model_dump(mode="json"), "train": self.cfg.model_dump(mode="json"),
                "world_size": self.ctx.world_size, "images": len(self.images), "meta": self.metadata,
                "contract": self.contract.to_dict(), **self.resume_key}

    def _save(self) -> None:
        save_state({"format": CHECKPOINT_FORMAT, "epoch": self.epoch, "student": self.student.state_dict(),
                    "teacher": self.teacher.state_dict(), "criterion": self.criterion.state_dict(),
                    "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                    "history": self.history, "settings": self._settings()}, self.out / LAST)
        save_weights(self.teacher.backbone.state_dict(), self.out / BACKBONE,
                     {**self.metadata, "contract": self.contract.to_dict(), "epoch": self.epoch,
                      "method": "dino"})

    def _resume(self) -> None:
        path = self.out / LAST
        state = load_state(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: checkpoint format {state.get('format')!r}, this version reads "
                             f"{CHECKPOINT_FORMAT}; delete {path.parent} to pretrain again")
        saved, now = state["settings"], self._settings()
        changed = [k for k in now if k not in ("train", "dino", "crops") and saved.get(k) != now[k]]
        changed += [f"{block}.{k}" for block in ("dino", "crops") if isinstance(now.get(block), dict)
                    for k, v in now[block].items() if (saved.get(block) or {}).get(k) != v]
        changed += [f"train.{k}" for k, v in now["train"].items()
                    if k not in _RESUMABLE and saved["train"].get(k) != v]
        if changed:
            raise ValueError(f"{path} was written by a run with other settings (changed: {', '.join(changed)}; "
                             "images: which sources' training images or folders, init: the start weights); resume "
                             f"with the same settings, or delete {path.parent} to pretrain from the start")
        self.student.load_state_dict(state["student"])
        self.teacher.load_state_dict(state["teacher"])
        self.criterion.load_state_dict(state["criterion"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.history = int(state["epoch"]), list(state["history"])

    # -- epochs -----------------------------------------------------------------------------------------
    def run(self, resume: bool) -> SSLRun:
        resumed_from = 0
        if resume and (self.out / LAST).is_file():
            self._resume()
            resumed_from = self.epoch
            if self.ctx.is_main:
                log.info("resumed self-supervised pretraining from %s after epoch %d", self.out / LAST, self.epoch)
        if self.ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            log.info("DINO pretraining on %d images (%s), %d epochs x %d steps, global batch %d (%d per rank x %d), "
                     "%d local views, precision %s, device %s", len(self.images),
                     ", ".join(f"{p.name}: {len(p)}" for p in self.images.parts), self.cfg.epochs,
                     self.steps_per_epoch, self.cfg.batch_size, self.micro, self.ctx.world_size,
                     len(self.images.transform.transforms) - 2, self.cfg.precision, self.device)
        while self.epoch < self.cfg.epochs:
            metrics = self._train_epoch()
            self.epoch += 1
            metrics["epoch"] = float(self.epoch)
            self.history.append(metrics)
            if self.ctx.is_main:
                self._save()
            barrier(self.ctx)
            if self.ctx.is_main:
                log.info("ssl epoch %d/%d: loss %.4f, lr %.3g, momentum %.5f, %.1f images/s", self.epoch,
                         self.cfg.epochs, metrics["ssl_loss"], metrics["lr"], metrics["teacher_momentum"],
                         metrics["images_per_s"])
                for cb in self.callbacks:
                    (cb.on_epoch_end if hasattr(cb, "on_epoch_end") else cb)(self.epoch, dict(metrics))
        if not (self.out / BACKBONE).is_file() and self.ctx.is_main:
            self._save()  # resumed after the last epoch with the weights file gone: write it again
        return SSLRun(self.epoch, self.history, self.out / LAST, self.out / BACKBONE, self.teacher.backbone,
                      resumed_from)

    def _loader(self) -> torch.utils.data.DataLoader:
        from torch.utils.data import DataLoader, DistributedSampler

        seed = epoch_seed(self.cfg.seed, self.epoch, self.ctx.rank)
        torch.manual_seed(seed)  # crops made in this process (workers: 0) draw from these three
        np.random.seed(seed % 2**32)
        random.seed(seed)
        sampler = DistributedSampler(self.images, num_replicas=self.ctx.world_size, rank=self.ctx.rank, shuffle=True,
                                     seed=self.cfg.seed, drop_last=True)
        sampler.set_epoch(self.epoch)
        return DataLoader(self.images, batch_size=self.micro, sampler=sampler, num_workers=self.cfg.workers,
                          drop_last=True, pin_memory=self.device.type == "cuda", worker_init_fn=seed_worker,
                          generator=torch.Generator().manual_seed(seed),
                          persistent_workers=False)

    def _train_epoch(self) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        self.student.train()
        self.teacher.train()
        loader = self._loader()
        loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
        steps = 0
        lr = momentum = 0.0
        bar = tqdm(total=self.steps_per_epoch * cfg.batch_size, desc=f"ssl epoch {self.epoch + 1}/{cfg.epochs}",
                   unit="img", unit_scale=True, disable=None if self.ctx.is_main else True, leave=False)
        start = time.perf_counter()
        for views in loader:
            step = self.epoch * self.steps_per_epoch + steps
            lr, wd, momentum = self._schedule(step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
                if group["weight_decay"] > 0:
                    group["weight_decay"] = wd
            views = [v.to(dev, non_blocking=True) for v in views]
            with autocast(dev, cfg.precision):
                with torch.no_grad():
                    teacher_out, _ = self.teacher(views[:2])
                student_out, embeddings = self.net(views)
            loss = self.criterion([t.float() for t in teacher_out], [s.float() for s in student_out],
                                  epoch=self.epoch)
            if self.koleo is not None:
                loss = loss + self.dino.koleo_weight * sum(self.koleo(e.float()) for e in embeddings[:2]) / 2
            if not torch.isfinite(loss):
                raise FloatingPointError(f"self-supervised loss became {loss.item()} in epoch {self.epoch + 1}; lower "
                                         "selfsupervised.train.lr, use bf16/fp32, or set grad_clip")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.student.parameters(), cfg.grad_clip)
            self.student.head.cancel_last_layer_gradients(self.epoch)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self._ema(momentum)
            loss_sum += loss.detach()
            steps += 1
            bar.update(cfg.batch_size)
            if steps % 10 == 1 and self.ctx.is_main:
                bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - start
        totals = all_reduce_sum(torch.stack([loss_sum, torch.tensor(float(steps), device=dev, dtype=torch.float64)]),
                                self.ctx)
        return {"ssl_loss": float(totals[0] / max(float(totals[1]), 1.0)), "lr": lr, "teacher_momentum": momentum,
                "images_per_s": steps * cfg.batch_size / max(seconds, 1e-9), "epoch_s": seconds}

    @torch.no_grad()
    def _ema(self, momentum: float) -> None:
        from lightly.models.utils import update_momentum

        update_momentum(self.student.backbone, self.teacher.backbone, momentum)
        update_momentum(self.student.head, self.teacher.head, momentum)


__all__ = ["BACKBONE", "SSLRun", "epoch_seed", "pretrain_dino"]
