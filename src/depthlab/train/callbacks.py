"""Callbacks: how diagnostics watch a run without the engine knowing them (they must never change results)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from depthlab.train.config import TrainConfig
from depthlab.train.history import History


@dataclass
class TrainState:
    """The run as callbacks see it; ``loss`` is the last batch loss as a device tensor."""

    model: nn.Module  # the bare model (not the DDP or compiled wrapper)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    config: TrainConfig
    history: History
    data: Any
    step: int = 0  # optimizer steps done
    epoch: int = 0  # epochs started (1-based while running)
    loss: torch.Tensor | None = None
    ema: nn.Module | None = None
    stop: bool = False  # a callback sets it to end the run after this step

    @property
    def loss_value(self) -> float:
        return float("nan") if self.loss is None else float(self.loss.detach().float().item())


class Callback:
    """Override any of these; each gets the TrainState. ``on_backward`` sees gradients before the step."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_backward(self, state: TrainState) -> None: ...

    def on_step(self, state: TrainState) -> None: ...

    def on_epoch(self, state: TrainState) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...


class CallbackList(Callback):
    """Calls each callback in order."""

    def __init__(self, callbacks: Iterable[Callback]):
        self.callbacks = list(callbacks)

    def on_train_start(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_train_start(state)

    def on_backward(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_backward(state)

    def on_step(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_step(state)

    def on_epoch(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_epoch(state)

    def on_train_end(self, state: TrainState) -> None:
        for cb in self.callbacks:
            cb.on_train_end(state)
