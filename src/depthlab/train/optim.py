"""Optimizer with decay-free 1-D parameters, and learning-rate schedules as plain formulas of the step."""

from __future__ import annotations

import math

import torch
from torch import nn

from depthlab.train.config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Matrices and kernels get ``weight_decay``; 1-D parameters (norm weights, biases) get none."""
    params = [p for p in model.parameters() if p.requires_grad]
    if weight_decay == 0:  # one group: half the optimizer's per-step launch overhead
        return [{"params": params, "weight_decay": 0.0}]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (optionally Nesterov), Adam or AdamW over ``param_groups``, with fused kernels.

    Fused (one kernel for all parameters, CPU and CUDA) is about 3x faster than ``foreach`` for small models
    on a 2-core CPU, where the optimizer step is a third of a training step.
    """
    groups = param_groups(model, config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, fused=True
        )
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=config.lr, fused=True)


def lr_factor(step: int, total_steps: int, config: TrainConfig) -> float:
    """Multiplier of ``config.lr`` at optimizer step ``step`` (0-based): warm-up, then the schedule."""
    if step < config.warmup:
        if config.warmup_mode == "constant":
            return config.warmup_factor
        return (step + 1) / config.warmup
    if config.schedule == "step":
        return config.gamma ** (step // config.step_size)
    if config.schedule == "multistep":
        return config.gamma ** sum(step >= m for m in config.milestones)
    if config.schedule == "cosine":
        span = max(1, total_steps - config.warmup)
        progress = min(1.0, (step - config.warmup) / span)
        floor = config.min_lr / config.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, config: TrainConfig):
    """A LambdaLR stepping once per optimizer step along ``lr_factor``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, config))
