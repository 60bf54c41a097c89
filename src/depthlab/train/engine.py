"""``fit``: a fast, seeded, resumable training loop over tensors that live on the device.

Speed comes from what the loop does not do (airbench's lesson): no DataLoader and no per-sample Python
(batches are contiguous slices of a seeded permutation), no host sync per step (losses stay on the device and
are read every ``sync_every`` steps), gradients set to None instead of zeroed, fused optimizer kernels; on
CUDA also bf16 autocast, channels_last and ``torch.compile``.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from depthlab import config as cfg
from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError
from depthlab.seeds import Stream, derive_seed
from depthlab.train import checkpoint as ckpt
from depthlab.train import runtime
from depthlab.train.augmentation import build_augment
from depthlab.train.batches import epoch_batches, epoch_permutation, steps_per_epoch
from depthlab.train.callbacks import Callback, CallbackList, TrainState
from depthlab.train.config import TrainConfig
from depthlab.train.ema import ModelEma
from depthlab.train.evaluate import TASKS, evaluate, predictions, task_loss
from depthlab.train.history import History
from depthlab.train.optim import build_optimizer, build_scheduler
from depthlab.train.plateau import Plateau
from depthlab.train.progress import ProgressBar


def resolve_config(config: TrainConfig | None, overrides: dict) -> TrainConfig:
    """``config`` (or the defaults) updated by ``overrides``, each coerced and range-checked."""
    base = cfg.as_dict(config) if config is not None else {}
    return cfg.build(TrainConfig, overrides, **base)


def fit(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    callbacks: tuple[Callback, ...] | list[Callback] = (),
    **overrides,
) -> History:
    """Train ``model`` on ``data``; a NaN/inf loss ends the run with History status ``diverged``."""
    return _Run(model, data, resolve_config(config, overrides), callbacks).execute()


class _Run:
    """One training run: the state the loop threads through its steps."""

    def __init__(self, model: nn.Module, data: Dataset, config: TrainConfig, callbacks):
        self.config = config
        self.where = runtime.distributed_context(config.device)
        self.device = runtime.resolve_device(config.device, self.where)
        runtime.set_backend_flags(self.device)
        self.history = History(notes=runtime.gpu_only_notes(config, self.device))
        self.plateau = Plateau(config.plateau_window, config.plateau_tol) if config.plateau_window else None
        self._check_data(data)
        self.model = model.to(self.device)
        self.data = self._place_data(data)
        if config.grad_checkpointing:
            self._enable_grad_checkpointing()
        self.augment = build_augment(config.augment, config.seed, self.data.x_train, self.device)
        self.per_epoch = steps_per_epoch(len(data.x_train), config.batch_size, self.where.world_size)
        self.total_steps = config.steps or config.epochs * self.per_epoch
        self.pause_at = config.pause_at if config.pause_at and config.pause_at < self.total_steps else None
        self.augment_state: torch.Tensor | None = None  # a run resumed within an epoch: its augment draws
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, config)
        self.scaler = runtime.grad_scaler(config, self.device)
        self.ema = ModelEma(self.model, config.ema_decay) if config.ema_decay else None
        self.train_model = runtime.wrap_for_training(self.model, config, self.device, self.where)
        self.callbacks = CallbackList(callbacks)
        self.state = TrainState(
            self.model,
            self.optimizer,
            self.scheduler,
            config,
            self.history,
            self.data,
            ema=self.ema.module if self.ema else None,
        )
        self._reset_accumulators()
        # steps not yet read on the host: batch losses, batch sizes, (predictions, targets)
        self.pending: list[torch.Tensor] = []
        self.pending_sizes: list[int] = []
        self.pending_predictions: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.eval_time = 0.0
        self.trained_samples = 0  # in this process's run, over all ranks

    def _check_data(self, data: Dataset) -> None:
        if len(data.x_train) == 0:
            raise DepthlabError(f"data set {data.name!r} has an empty training split")
        if data.task not in TASKS:
            raise DepthlabError(f"unknown task {data.task!r} (valid: {', '.join(TASKS)})")

    def _place_data(self, data: Dataset) -> Dataset:
        data = data.to(self.device)
        if self.config.channels_last and self.device.type == "cuda" and data.x_train.ndim == 4:
            self.model.to(memory_format=torch.channels_last)
            for split in ("train", "val", "test"):
                key = f"x_{split}"
                setattr(data, key, getattr(data, key).contiguous(memory_format=torch.channels_last))
        return data

    def _enable_grad_checkpointing(self) -> None:
        if not hasattr(self.model, "set_grad_checkpointing"):
            raise DepthlabError(
                f"grad_checkpointing=true but {type(self.model).__name__} does not support it"
            )
        self.model.set_grad_checkpointing(True)

    def _reset_accumulators(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), device=self.device, dtype=torch.long)  # right classes or tokens
        self.seen = 0  # examples (sequences, for lm)

    # --- the loop -------------------------------------------------------------------------------------------

    def execute(self) -> History:
        start = time.perf_counter()
        start_epoch = self._resume() if self.config.resume else self._fresh_start()
        bar = ProgressBar(self.total_steps, not self.config.quiet and self.where.is_main, self.state.step)
        self.t0 = start
        self.callbacks.on_train_start(self.state)
        try:
            self._epochs(start_epoch, bar)
        finally:
            bar.close()
        runtime.synchronize(self.device)
        self._finish(time.perf_counter() - start)
        self.callbacks.on_train_end(self.state)
        return self.history

    def _fresh_start(self) -> int:
        torch.manual_seed(derive_seed(self.config.seed, Stream.DROPOUT, self.where.rank))
        return 0

    def _epochs(self, start_epoch: int, bar: ProgressBar) -> None:
        n_epochs = math.ceil(self.total_steps / self.per_epoch)
        if self._stopped_on_plateau():  # resumed from a run that had already stopped on its plateau
            return
        for epoch in range(start_epoch, n_epochs):
            self.state.epoch = epoch + 1
            self._one_epoch(epoch, bar)
            if self.history.status == "diverged" or self.state.stop:
                return
            if self._stopped_on_plateau():  # the plateau ends the run mid-epoch: record and checkpoint it
                self._end_epoch(True, bar)
                return
            if self.state.step == self.pause_at:  # unfinished: saved within the epoch, nothing recorded
                if self.config.checkpoint_dir:
                    self._save(epoch)
                return
            self._end_epoch(epoch + 1 == n_epochs, bar)

    def _one_epoch(self, epoch: int, bar: ProgressBar) -> None:
        data, cfg_ = self.data, self.config
        order = epoch_permutation(len(data.x_train), cfg_.seed, epoch, self.device)
        first = max(0, self.state.step - epoch * self.per_epoch)  # batches done before a pause
        if self.augment is not None:
            self.augment.start_epoch(epoch)
            if first and self.augment_state is not None:
                self.augment.generator.set_state(self.augment_state)
        for x, y in epoch_batches(
            data.x_train,
            data.y_train,
            order,
            cfg_.batch_size,
            first=first,
            rank=self.where.rank,
            world_size=self.where.world_size,
        ):
            if self.state.step >= self.total_steps:
                break
            self._train_step(x, y)
            if self.state.step % cfg_.sync_every == 0 and self._check_losses(bar):
                return
            if self.state.stop:
                break
            if self.state.step == self.pause_at:  # the losses not yet read are saved, and read on resume
                return
        self._check_losses(bar)

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        state, cfg_ = self.state, self.config
        if self.augment is not None:
            x = self.augment(x)
        with runtime.autocast(cfg_, self.device):
            out = self.train_model(x)
        loss = task_loss(out, y, self.data.task, cfg_.label_smoothing)
        self._backward(loss)
        self.callbacks.on_backward(state)
        if cfg_.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg_.grad_clip)
        self._optimizer_step()
        state.step += 1
        state.loss = loss.detach()
        self._accumulate(state.loss, out.detach(), y)
        self.callbacks.on_step(state)

    def _backward(self, loss: torch.Tensor) -> None:
        if self.scaler is None:
            loss.backward()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)

    def _optimizer_step(self) -> None:
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)

    def _accumulate(self, loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
        """Keep this step's loss and predictions; they are summed once per window in ``_fold_pending`` (one
        kernel per step here instead of six: on a small model each kernel launch costs a few percent)."""
        self.pending.append(loss)
        self.pending_sizes.append(len(y))
        self.trained_samples += len(y) * self.where.world_size
        if self.data.task != "regression":
            self.pending_predictions.append((predictions(out), y))

    def _check_losses(self, bar: ProgressBar) -> bool:
        """Read the pending losses (one host sync) and extend the learning curve; True ends the run: on the
        first non-finite loss (marked diverged) or on a plateau of the loss (marked converged)."""
        if not self.pending:
            return False
        losses = torch.stack(self.pending).float()
        sizes = list(self.pending_sizes)
        first_step = self.state.step - len(losses) + 1
        self._fold_pending(losses)
        bad_step = runtime.first_bad_step(losses, first_step, self.where)
        values = losses.tolist()  # already synced by first_bad_step: a copy, not another wait
        # a curve point weighs each step by its batch: the partial last batch of an epoch counts for its size
        mean = sum(v * n for v, n in zip(values, sizes, strict=True)) / sum(sizes)
        self.history.curve.append((self.state.step, mean))
        if bad_step is not None:
            self.history.status = "diverged"
            self.history.diverged_step = bad_step
            return True
        bar.update(self.state.step, loss=values[-1])
        return self._plateau_reached(values, sizes)

    def _plateau_reached(self, values: list[float], sizes: list[int]) -> bool:
        """Feed the plateau rule; True when it ends the run (``plateau_stop``). The first step at which it
        held is kept either way, and a run that trains on past it stops checking."""
        if self.plateau is None or self.history.converged:
            return self._stopped_on_plateau()
        self.plateau.add(values, sizes)
        if self.plateau.reached(self.where.world_size, self.device):
            self.history.converged = True
            self.history.plateau_step = self.state.step
        return self._stopped_on_plateau()

    def _stopped_on_plateau(self) -> bool:
        return bool(self.history.converged) and self.config.plateau_stop

    def _fold_pending(self, losses: torch.Tensor) -> None:
        """Add the pending steps to the epoch's running loss, accuracy and sample count."""
        sizes = torch.tensor(self.pending_sizes, dtype=losses.dtype).to(losses.device, non_blocking=True)
        self.loss_sum += (losses * sizes).sum()
        self.seen += sum(self.pending_sizes)
        if self.pending_predictions:
            predicted, targets = zip(*self.pending_predictions, strict=True)
            self.correct += (torch.cat(predicted) == torch.cat(targets)).sum()
        self.pending, self.pending_sizes, self.pending_predictions = [], [], []

    # --- evaluation, checkpoints, the end -------------------------------------------------------------------

    def _end_epoch(self, last: bool, bar: ProgressBar) -> None:
        epoch = self.state.epoch
        if last or epoch % self.config.eval_every == 0:
            record = self._record()
            bar.update(self.state.step, loss=record["train_loss"], val_acc=record.get("val_acc"))
        self.callbacks.on_epoch(self.state)
        if self.config.checkpoint_dir and (last or epoch % self.config.checkpoint_every == 0):
            self._save(epoch)

    def _record(self) -> dict:
        runtime.synchronize(self.device)  # training work still queued belongs to training time
        started = time.perf_counter()
        record = {
            "epoch": self.state.epoch,
            "step": self.state.step,
            **self._train_metrics(),
            **_named("val", self._evaluate(self.model, "val")),
        }
        if self.ema is not None:
            record.update(_named("ema_val", self._evaluate(self.ema.module, "val")))
        if self.config.eval_train:
            record.update(_named("trainset", self._evaluate(self.model, "train")))
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        self.eval_time += time.perf_counter() - started
        record["time"] = time.perf_counter() - self.t0
        self.history.records.append(record)
        return record

    def _train_metrics(self) -> dict:
        seen = max(1, self.seen)
        metrics = {"train_loss": self.loss_sum.item() / seen}  # lm: each step's loss is already per token
        if self.data.task == "lm":
            metrics["train_bpc"] = metrics["train_loss"] / math.log(2)
        if self.data.task != "regression":
            targets_per_example = self.data.y_train[0].numel()  # 1, or T tokens (lm)
            metrics["train_acc"] = self.correct.item() / (seen * targets_per_example)
        self._reset_accumulators()
        return metrics

    def _evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        x, y = getattr(self.data, f"x_{split}"), getattr(self.data, f"y_{split}")
        batch = max(self.config.batch_size, 1024)
        return evaluate(model, x, y, self.data.task, batch, runtime.autocast(self.config, self.device))

    def _finish(self, wall_time: float) -> None:
        history = self.history
        history.steps = self.state.step
        if self.plateau is not None and not history.converged:
            history.converged = False
        history.wall_time = wall_time
        train_time = max(1e-9, wall_time - self.eval_time)
        history.samples_per_sec = self.trained_samples / train_time
        for split in ("train", "val", "test"):
            history.final.update(_named(split, self._evaluate(self.model, split)))
            if self.ema is not None and split != "train":
                history.final.update(_named(f"ema_{split}", self._evaluate(self.ema.module, split)))

    # --- checkpoints ----------------------------------------------------------------------------------------

    def _save(self, epoch: int) -> None:
        """Rank 0 writes the complete state at an epoch end (``epoch`` epochs done) or at a pause within
        epoch ``epoch`` (0-based); the other ranks wait for it."""
        if self.where.is_main:
            tensors, meta = self._snapshot(epoch)
            ckpt.save_checkpoint(self.config.checkpoint_dir, f"step-{self.state.step:08d}", tensors, meta)
        runtime.barrier(self.where)

    def _snapshot(self, epoch: int) -> tuple[dict, dict]:
        optim_tensors, optim_meta = ckpt.optimizer_to_flat(self.optimizer)
        tensors = {
            **_with_prefix("model", self.model.state_dict()),
            **optim_tensors,
            **ckpt.rng_tensors(),
            "acc.loss_sum": self.loss_sum,
            "acc.correct": self.correct,
            **self._pending_tensors(),
        }
        if self.ema is not None:
            tensors.update(_with_prefix("ema", self.ema.module.state_dict()))
        if self.augment is not None:
            tensors["rng.augment"] = self.augment.generator.get_state()
        meta = {
            "epoch": epoch,
            "step": self.state.step,
            "seen": self.seen,
            "config": cfg.as_dict(self.config),
            "optimizer": optim_meta,
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "history": self.history.to_dict(),
            "plateau": self.plateau.state() if self.plateau is not None else [],
            "pending_sizes": list(self.pending_sizes),
        }
        return tensors, meta

    def _pending_tensors(self) -> dict[str, torch.Tensor]:
        """The steps not yet read (a pause between two reads): read on resume, where the uninterrupted run
        reads them, so the loss curve and the plateau rule see the same windows."""
        if not self.pending:
            return {}
        tensors = {"pending.loss": torch.stack(self.pending)}
        if self.pending_predictions:
            predicted, targets = zip(*self.pending_predictions, strict=True)
            tensors["pending.predicted"], tensors["pending.targets"] = (
                torch.cat(predicted),
                torch.cat(targets),
            )
        return tensors

    def _restore_pending(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        if "pending.loss" not in tensors:
            return
        self.pending = list(tensors["pending.loss"].to(self.device).unbind())
        self.pending_sizes = list(meta["pending_sizes"])
        if "pending.predicted" in tensors:
            pair = (tensors["pending.predicted"].to(self.device), tensors["pending.targets"].to(self.device))
            self.pending_predictions = [pair]

    def _resume(self) -> int:
        """Load the latest checkpoint if there is one; returns the epoch to start from."""
        found = ckpt.load_checkpoint(self.config.checkpoint_dir)
        if found is None:
            return self._fresh_start()
        tensors, meta = found
        self.model.load_state_dict(ckpt.prefixed("model", tensors))
        if self.ema is not None:
            self.ema.module.load_state_dict(ckpt.prefixed("ema", tensors))
        ckpt.optimizer_from_flat(self.optimizer, tensors, meta["optimizer"])
        self.scheduler.load_state_dict(meta["scheduler"])
        if self.scaler is not None and meta["scaler"]:
            self.scaler.load_state_dict(meta["scaler"])
        ckpt.restore_rng(tensors)
        self.loss_sum.copy_(tensors["acc.loss_sum"])
        self.correct.copy_(tensors["acc.correct"])
        self.seen, self.state.step = meta["seen"], meta["step"]
        self._restore_pending(tensors, meta)
        self.augment_state = tensors.get("rng.augment")
        saved = History.from_dict(meta["history"])
        self.history.records, self.history.curve = saved.records, saved.curve
        if self.plateau is not None:
            self.history.converged = saved.converged or None
            self.history.plateau_step = saved.plateau_step
            self.plateau = Plateau(self.config.plateau_window, self.config.plateau_tol, meta["plateau"])
        return meta["epoch"]


def _with_prefix(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def _named(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}
