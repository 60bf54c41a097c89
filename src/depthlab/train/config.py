"""Every training knob in one dataclass, built from strings by ``depthlab.config.build``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from depthlab.errors import DepthlabError, check, unknown
from depthlab.seeds import check_seed
from depthlab.train.augmentation import AUGMENTS


@dataclass
class TrainConfig:
    """How to train: length, batch, optimizer, schedule, regularization, precision, checkpoints.

    Units: ``steps``, ``warmup``, ``milestones``, ``step_size`` and ``plateau_window`` count optimizer steps;
    ``eval_every`` and ``checkpoint_every`` count epochs. ``steps`` (when set) overrides ``epochs``; either is
    the budget, and with ``plateau_window`` set a run may stop earlier, once its training loss has plateaued.
    """

    epochs: int = 10
    steps: int | None = None
    batch_size: int = 128
    optimizer: Literal["sgd", "adamw", "adam"] = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0  # never applied to 1-D parameters (norm weights, biases)
    schedule: Literal["constant", "step", "multistep", "cosine"] = "constant"
    warmup: int = 0
    warmup_mode: Literal["linear", "constant"] = "linear"  # constant: lr * warmup_factor for `warmup` steps
    warmup_factor: float = 0.1
    milestones: tuple[int, ...] = ()
    step_size: int = 1000
    gamma: float = 0.1
    min_lr: float = 0.0  # cosine floor
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "bf16", "fp16"] = "off"
    compile: bool = False
    compile_mode: Literal["default", "reduce-overhead", "max-autotune"] = "default"
    channels_last: bool = True  # only for 4-D inputs on CUDA
    augment: str = "none"
    ema_decay: float | None = None
    eval_every: int = 1
    # also score the whole training split in eval mode at each evaluation ("trainset_acc"): what the net fits
    # so far, where the running train_acc averages batches seen in train mode (BatchNorm, dropout) as it moved
    eval_train: bool = False
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    resume: bool = False  # continue from checkpoint_dir's latest checkpoint when there is one
    quiet: bool = False
    grad_checkpointing: bool = False
    sync_every: int = 50  # steps between host reads of the loss (divergence check, progress bar, curve)
    plateau_window: int | None = None  # stop once the loss stops improving over this many steps (none: off)
    plateau_tol: float = 0.01  # relative improvement of the mean loss, window vs the window before, to go on
    plateau_stop: bool = True  # false: record the step the plateau rule first held and train to the budget
    # stop after this step, unfinished: the schedule and data order still span the whole budget, and with
    # checkpoint_dir the state is saved there so resume=true continues exactly as an uninterrupted run
    pause_at: int | None = None

    def __post_init__(self):
        check(self.epochs >= 1, f"epochs={self.epochs}: must be >= 1")
        check(self.steps is None or self.steps >= 1, f"steps={self.steps}: must be >= 1 (or none)")
        check(self.batch_size >= 1, f"batch_size={self.batch_size}: must be >= 1")
        check(0 < self.lr < math.inf, f"lr={self.lr}: must be > 0 and finite")
        check(0 <= self.momentum < 1, f"momentum={self.momentum}: must be in [0, 1)")
        check(0 <= self.weight_decay < math.inf, f"weight_decay={self.weight_decay}: must be >= 0 and finite")
        check(self.warmup >= 0, f"warmup={self.warmup}: must be >= 0")
        check(0 < self.warmup_factor <= 1, f"warmup_factor={self.warmup_factor}: must be in (0, 1]")
        check(
            list(self.milestones) == sorted(self.milestones), f"milestones={self.milestones}: must increase"
        )
        check(self.step_size >= 1, f"step_size={self.step_size}: must be >= 1")
        check(0 < self.gamma <= 1, f"gamma={self.gamma}: must be in (0, 1]")
        check(0 <= self.min_lr <= self.lr, f"min_lr={self.min_lr}: must be in [0, lr]")
        check(0 <= self.label_smoothing < 1, f"label_smoothing={self.label_smoothing}: must be in [0, 1)")
        check(
            self.grad_clip is None or self.grad_clip > 0, f"grad_clip={self.grad_clip}: must be > 0 (or none)"
        )
        check(
            self.ema_decay is None or 0 < self.ema_decay < 1, f"ema_decay={self.ema_decay}: must be in (0, 1)"
        )
        check(self.eval_every >= 1, f"eval_every={self.eval_every}: must be >= 1")
        check(self.checkpoint_every >= 1, f"checkpoint_every={self.checkpoint_every}: must be >= 1")
        check(self.sync_every >= 1, f"sync_every={self.sync_every}: must be >= 1")
        check(
            self.plateau_window is None or self.plateau_window >= 1,
            f"plateau_window={self.plateau_window}: must be >= 1 (or none)",
        )
        check(
            self.pause_at is None or self.pause_at >= 1, f"pause_at={self.pause_at}: must be >= 1 (or none)"
        )
        check(0 <= self.plateau_tol < 1, f"plateau_tol={self.plateau_tol}: must be in [0, 1)")
        check_seed(self.seed)
        if self.augment not in AUGMENTS:
            raise unknown("augment", self.augment, AUGMENTS)
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            raise DepthlabError("nesterov=true needs momentum > 0")
        if self.resume and not self.checkpoint_dir:
            raise DepthlabError("resume=true needs checkpoint_dir")
