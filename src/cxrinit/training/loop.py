"""The fine-tuning loop: masked pos-weighted BCE, AdamW, validation AUROC model selection, early stopping,
a resumable checkpoint every epoch, single process or DDP."""

from __future__ import annotations

import contextlib
import logging
import math
import resource
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cxrinit.models.contract import InputContract

from .checkpoint import BEST, LAST, load_state, rng_state, save_state, save_weights, set_rng_state
from .config import TrainConfig
from .data import ImageStore, LabeledSplit, pos_weight
from .determinism import deterministic_mode, seed_everything
from .distributed import DistContext, all_reduce_sum, barrier, resolve_device
from .loader import BatchLoader, InputPipeline
from .loss import masked_bce
from .metrics import auroc_per_finding, mean_auroc
from .predict import autocast, predict_rows, unwrap
from .sampler import EpochSampler

log = logging.getLogger(__name__)

#: 2: the best epoch is stored with its selection metric (format 1 stored a bare score).
CHECKPOINT_FORMAT = 3  # 3: the store is recorded by its fingerprint, paths relative to the project
#: Options that may change between a checkpoint and its resumption; any other change is refused.
_RESUMABLE_CHANGES = {"epochs", "patience", "eval_batch_size", "prefetch", "compile"}


class EpochCallback(Protocol):
    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...


Callback = EpochCallback | Callable[[int, dict[str, float]], None]


#: How the best epoch is chosen, in order of preference (see :class:`Selection`).
SELECTION_METRICS = ("val_auroc_mean", "val_loss", "last_epoch")


@dataclass(frozen=True)
class Selection:
    """How the kept (best) epoch was chosen, and its value.

    ``metric``: ``val_auroc_mean`` (validation mean AUROC over the findings with both classes; higher
    is better), ``val_loss`` (when no finding has both classes in validation; lower is better) or
    ``last_epoch`` (no validation split, e.g. the study's preset: the last epoch is kept, ``value`` None).
    The metric is fixed before training from the validation labels, so it never changes between epochs.
    """

    metric: str
    value: float | None
    epoch: int

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "epoch": self.epoch}


def selection_metric(val: LabeledSplit | None) -> str:
    """``last_epoch`` without validation, ``val_auroc_mean`` when a finding has both classes, else ``val_loss``."""
    if val is None or not len(val):
        return "last_epoch"
    labels = np.asarray(val.labels, dtype=np.float64)
    positives, annotated = np.nansum(labels, axis=0), np.sum(~np.isnan(labels), axis=0)
    return "val_auroc_mean" if bool(np.any((positives > 0) & (positives < annotated))) else "val_loss"


@dataclass
class FitResult:
    """What a run ended with; ``history`` holds every epoch's metrics (also in the checkpoint)."""

    epochs_run: int
    best_epoch: int
    selection: Selection
    stopped_early: bool
    history: list[dict[str, float]]
    checkpoint: Path
    best_weights: Path | None
    resumed_from: int = 0
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)


def fit(model: nn.Module, contract: InputContract, store: ImageStore, train: LabeledSplit,
        val: LabeledSplit | None, config: TrainConfig, checkpoint_dir: str | Path, *,
        callbacks: Iterable[Callback] = (), ctx: DistContext | None = None, device: str | torch.device | None = None,
        resume: bool = True, restore_best: bool = True, metadata: Mapping[str, Any] | None = None) -> FitResult:
    """Fine-tune ``model`` on ``train``, select the epoch with the best validation mean AUROC.

    Writes ``checkpoint_dir/last.pt`` (everything needed to resume) each epoch and ``best.safetensors`` (weights +
    labels, contract and ``metadata``) on improvement; only rank 0 writes, logs and calls ``callbacks``
    (``on_epoch_end(epoch, metrics)`` with ``epoch`` counted from 1). With ``resume`` an existing ``last.pt``
    is continued; in deterministic mode on CPU the result is bit-identical to an uninterrupted run.
    """
    ctx = ctx or DistContext(device=resolve_device(device))
    if val is not None and val.findings != train.findings:
        raise ValueError(f"validation findings {val.findings} differ from training findings {train.findings}")
    with deterministic_mode(config.deterministic, ctx.device):
        return _Run(model, contract, store, train, val, config, Path(checkpoint_dir), list(callbacks), ctx,
                    dict(metadata or {})).run(resume, restore_best)


class _Run:
    def __init__(self, model: nn.Module, contract: InputContract, store: ImageStore, train: LabeledSplit,
                 val: LabeledSplit | None, config: TrainConfig, out: Path, callbacks: list[Callback],
                 ctx: DistContext, metadata: dict[str, Any]) -> None:
        self.contract, self.store, self.train, self.val, self.cfg = contract, store, train, val, config
        self.out, self.callbacks, self.ctx, self.metadata = out, callbacks, ctx, metadata
        self.device = ctx.device
        per_step = ctx.world_size * config.grad_accum
        if config.batch_size % per_step:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by world_size x grad_accum = {per_step}")
        self.micro = config.batch_size // per_step
        seed_everything(config.seed)
        self.model = model.to(self.device)
        self.sampler = EpochSampler(len(train), self.micro, seed=config.seed, rank=ctx.rank,
                                    world_size=ctx.world_size)
        self.steps_per_epoch = math.ceil(len(self.sampler) / config.grad_accum)
        self.pos_weight = torch.from_numpy(pos_weight(train.labels, train.findings)).to(self.device)
        self.optimizer = self._optimizer()
        self.scheduler = self._scheduler()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        net: nn.Module = self.model
        if ctx.enabled:
            net = nn.parallel.DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.net = torch.compile(net) if config.compile else net
        self.inputs = InputPipeline(contract, self.device, config.augment, compile=config.compile)
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.metric = selection_metric(val)
        self.best_key, self.best_value, self.best_epoch, self.bad_epochs = -math.inf, None, 0, 0
        self.best_state: dict[str, torch.Tensor] | None = None

    # -- setup ---------------------------------------------------------------------------------------------
    def _optimizer(self) -> torch.optim.Optimizer:
        from timm.optim import param_groups_weight_decay

        cfg = self.cfg
        skip = self.model.no_weight_decay() if hasattr(self.model, "no_weight_decay") else set()
        # decay only weight matrices; norms, biases, tokens and position embeddings are left alone
        groups = param_groups_weight_decay(self.model, cfg.weight_decay, no_weight_decay_list=skip)
        fused = self.device.type == "cuda"
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)

    def _scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        cfg = self.cfg
        if cfg.schedule == "none":
            return None
        total = max(1, cfg.epochs * self.steps_per_epoch)
        warmup = int(round(cfg.warmup_epochs * self.steps_per_epoch))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    # -- checkpoint ----------------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {**self.metadata, "labels": list(self.train.findings), "contract": self.contract.to_dict()}

    def _save(self) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng_state(),
            "best": {"metric": self.metric, "key": self.best_key, "value": self.best_value, "epoch": self.best_epoch,
                     "bad_epochs": self.bad_epochs},
            "history": self.history,
            "config": self.cfg.to_dict(),
            "world_size": self.ctx.world_size,
            "n_train": len(self.train),
            "meta": self._meta(),
        }
        save_state(state, self.out / LAST)

    def _resume(self) -> None:
        path = self.out / LAST
        state = load_state(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: checkpoint format {state.get('format')!r}, this version of cxrinit reads "
                             f"format {CHECKPOINT_FORMAT}; delete the checkpoint folder to train this cell again")
        saved, now = state["config"], self.cfg.to_dict()
        changed = sorted(k for k in now if k not in _RESUMABLE_CHANGES and saved.get(k) != now[k])
        setup = {"world_size": (state["world_size"], self.ctx.world_size),
                 "n_train": (state["n_train"], len(self.train)),
                 "labels": (state["meta"]["labels"], list(self.train.findings)),
                 # what the model is and sees: the init (arch, weights), input contract and store
                 "contract": (state["meta"].get("contract"), self.contract.to_dict()),
                 "cell": (state["meta"].get("cell"), self.metadata.get("cell"))}
        changed += [f"{k} ({a!r} -> {b!r})" for k, (a, b) in setup.items() if a != b]
        if changed:
            raise ValueError(f"{path} was written by a different run (changed: {changed}); resume it with the same "
                             f"settings, or train this cell from the start: delete {path.parent} (in a cell file, "
                             "`resume: false` does the same)")
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.epoch, self.history = int(state["epoch"]), list(state["history"])
        best = state["best"]
        if best.get("metric") != self.metric:
            raise ValueError(f"{path} selected epochs by {best.get('metric')!r}, this run by {self.metric!r} (the "
                             "validation split changed); start over in another checkpoint directory")
        self.best_key, self.best_value = float(best["key"]), best["value"]
        self.best_epoch, self.bad_epochs = int(best["epoch"]), int(best["bad_epochs"])

    # -- epochs --------------------------------------------------------------------------------------------
    def run(self, resume: bool, restore_best: bool) -> FitResult:
        resumed_from = 0
        if resume and (self.out / LAST).is_file():
            self._resume()
            resumed_from = self.epoch
            if self.ctx.is_main:
                log.info("resumed from %s after epoch %d (best %s %s at epoch %d)", self.out / LAST, self.epoch,
                         self.metric, self.best_value, self.best_epoch)
        if self.ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            log.info("training %d images (%d findings), validating %d; %d epochs max, global batch %d "
                     "(%d per forward x %d ranks x %d accumulation), precision %s, device %s",
                     len(self.train), len(self.train.findings), len(self.val) if self.val else 0, self.cfg.epochs,
                     self.cfg.batch_size, self.micro, self.ctx.world_size, self.cfg.grad_accum, self.cfg.precision,
                     self.device)
        stopped = self._stop_now()
        while self.epoch < self.cfg.epochs and not stopped:
            metrics = self._train_epoch()
            metrics.update(self._validate())
            self.epoch += 1
            self._select(metrics)
            metrics.update({"epoch": float(self.epoch), "best_epoch": float(self.best_epoch)})
            if self.best_value is not None:
                metrics[f"best_{self.metric}"] = float(self.best_value)
            self.history.append(metrics)
            if self.ctx.is_main:
                self._save()
            barrier(self.ctx)
            if self.ctx.is_main:
                log.info("epoch %d: %s", self.epoch, _summary(metrics))
                for cb in self.callbacks:
                    (cb.on_epoch_end if hasattr(cb, "on_epoch_end") else cb)(self.epoch, dict(metrics))
            stopped = self._stop_now()
        if stopped and self.ctx.is_main:
            log.info("early stop after epoch %d: no improvement for %d epochs", self.epoch, self.bad_epochs)
        best_path = self.out / BEST
        if restore_best:
            self._restore_best(best_path)
        selection = Selection(self.metric, self.best_value, self.best_epoch)
        return FitResult(self.epoch, self.best_epoch, selection, stopped, self.history, self.out / LAST,
                         best_path if best_path.is_file() else None, resumed_from,
                         {"train": self.train.dropped, **({"val": self.val.dropped} if self.val else {})})

    def _stop_now(self) -> bool:
        return self.cfg.patience is not None and self.bad_epochs >= self.cfg.patience

    def _train_epoch(self) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        self.sampler.set_epoch(self.epoch)
        seed = int(np.random.SeedSequence([cfg.seed, self.epoch, self.ctx.rank]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # dropout / drop-path draws depend only on (seed, epoch, rank)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        self.net.train()
        batches = list(self.sampler)
        n_images = sum(len(b) for b in batches)
        # annotated entries per optimizer step: the step's loss is the mean over all of them, so accumulating
        # micro-batches gives the same gradient as one big batch
        annotated = np.array([np.count_nonzero(~np.isnan(self.train.labels[b])) for b in batches], dtype=np.float64)
        step_of = np.arange(len(batches)) // cfg.grad_accum
        step_annotated = np.bincount(step_of, weights=annotated)
        loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
        loader = BatchLoader(self.store.images, self.train.rows, self.train.labels, batches, cfg.prefetch,
                             pin_memory=dev.type == "cuda")
        bar = tqdm(total=n_images, desc=f"epoch {self.epoch + 1}/{cfg.epochs}", unit="img", unit_scale=True,
                   disable=None if self.ctx.is_main else True, leave=False)
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(loader):
            last = i == len(batches) - 1 or step_of[i + 1] != step_of[i]
            x = self.inputs(batch.images, generator)
            y = batch.labels.to(dev, non_blocking=True)
            with self._sync(last):
                with autocast(dev, cfg.precision):
                    logits = self.net(x)
                loss = masked_bce(logits.float(), y, self.pos_weight, "sum") / max(step_annotated[step_of[i]], 1.0)
                self.scaler.scale(loss).backward()
            loss_sum += loss.detach()
            if last:
                self._step()
            bar.update(len(batch.positions))
            if i % 20 == 0 and self.ctx.is_main:
                bar.set_postfix(loss=f"{loss.item() * cfg.grad_accum:.4f}")
        bar.close()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - start
        totals = all_reduce_sum(torch.stack([loss_sum, torch.tensor(float(len(step_annotated)), device=dev,
                                                                    dtype=torch.float64)]), self.ctx)
        train_loss = float(totals[0] / totals[1])
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training loss became {train_loss} in epoch {self.epoch + 1}; lower lr, use "
                                     "bf16/fp32 instead of fp16, or set grad_clip")
        images_per_s = n_images * self.ctx.world_size / max(seconds, 1e-9)
        return {"train_loss": train_loss, "lr": float(self.optimizer.param_groups[0]["lr"]),
                "images_per_s": images_per_s, "epoch_s": seconds, "peak_mem_mb": _peak_memory_mb(dev)}

    def _sync(self, last: bool) -> contextlib.AbstractContextManager:
        """DDP's ``no_sync`` on accumulation micro-steps: gradients are all-reduced on a step's last one only."""
        inner = getattr(self.net, "_orig_mod", None)
        ddp = inner if isinstance(inner, nn.Module) else self.net
        if last or not isinstance(ddp, nn.parallel.DistributedDataParallel):
            return contextlib.nullcontext()
        return ddp.no_sync()

    def _step(self) -> None:
        if self.cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()

    def _validate(self) -> dict[str, float]:
        if self.val is None:
            return {}
        probs = predict_rows(self.model, self.store.images, self.val.rows, self.contract, self.cfg.eval_batch_size,
                             self.device, self.cfg.precision, self.ctx, desc=f"validate {self.epoch + 1}")
        per = auroc_per_finding(probs, self.val.labels)
        out = {"val_loss": _bce_from_probs(probs, self.val.labels, self.pos_weight.cpu().numpy()),
               "val_auroc_mean": mean_auroc(per)}
        out.update({f"val_auroc_{f}": float(a) for f, a in zip(self.val.findings, per)})
        return out

    def _select(self, metrics: dict[str, float]) -> None:
        value: float | None
        if self.metric == "last_epoch":
            value, key = None, float(self.epoch)  # no validation split: the last epoch is kept
        else:
            value = float(metrics[self.metric])
            key = value if self.metric == "val_auroc_mean" else -value
        if key > self.best_key:
            self.best_key, self.best_value, self.best_epoch, self.bad_epochs = key, value, self.epoch, 0
            state = unwrap(self.model).state_dict()
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
            if self.ctx.is_main:
                save_weights(self.best_state, self.out / BEST,
                             {**self._meta(), "epoch": self.epoch,
                              "selection": {"metric": self.metric, "value": value}})
        else:
            self.bad_epochs += 1

    def _restore_best(self, best_path: Path) -> None:
        state = self.best_state
        if state is None and best_path.is_file():
            from safetensors.torch import load_file

            state = load_file(str(best_path))
        if state is None:
            log.warning("no best weights to restore (none in memory, none at %s); the model keeps its last state",
                        best_path)
            return
        unwrap(self.model).load_state_dict(state)


def _bce_from_probs(probs: np.ndarray, labels: np.ndarray, weight: np.ndarray) -> float:
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    valid = ~np.isnan(labels)
    y = np.where(valid, labels, 0.0)
    loss = -(weight * y * np.log(p) + (1 - y) * np.log1p(-p))
    return float(loss[valid].mean()) if valid.any() else float("nan")


def _peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated this epoch, or the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _summary(metrics: dict[str, float]) -> str:
    keys = ("train_loss", "val_loss", "val_auroc_mean", "lr", "images_per_s", "peak_mem_mb")
    return ", ".join(f"{k} {metrics[k]:.4g}" for k in keys if k in metrics)
