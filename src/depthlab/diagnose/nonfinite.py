"""Where a diverged run first went non-finite: the step, and the weight layer whose output (forward) or weight
gradient (backward) first held a NaN or inf, or ``input`` when the data did.

The engine already finds *when* (the first non-finite loss, read every ``sync_every`` steps at no per-step
cost). Finding *where* needs a check on every layer at every step, which a healthy run should not pay for, so
:func:`locate_divergence` replays a diverged run up to its divergence with the checks on: training is
deterministic for a fixed config and seed, so the replay goes non-finite at the same place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from depthlab.diagnose.weights import weight_layers, weight_of
from depthlab.train.callbacks import Callback, TrainState

_NOT_REPLAYED = ("checkpoint_dir", "resume")  # a replay writes nothing and starts from scratch


def _finite(value: Any) -> bool:
    return not isinstance(value, torch.Tensor) or bool(torch.isfinite(value).all())


class FirstNonFinite(Callback):
    """Records ``{"step", "layer", "where"}`` of the first non-finite layer output or weight gradient; stops
    the run there (or at ``stop_at``)."""

    def __init__(self, stop_at: int | None = None):
        self.stop_at = stop_at
        self.found: dict[str, Any] | None = None
        self.layers: list[tuple[str, nn.Module]] = []
        self._handles: list[Any] = []
        self._step = 1

    def on_train_start(self, state: TrainState) -> None:
        self._step = state.step + 1
        self.layers = list(weight_layers(state.model).items())
        for index, (name, module) in enumerate(self.layers):
            self._handles.append(module.register_forward_hook(self._hook(name, index == 0)))

    def _hook(self, name: str, first: bool):
        def hook(_module, inputs, output):
            if self.found or not torch.is_grad_enabled():  # evaluation passes are not training steps
                return
            if first and inputs and not _finite(inputs[0]):
                self._record("input", "data")
            elif not _finite(output):
                self._record(name, "forward")

        return hook

    def on_backward(self, state: TrainState) -> None:
        if self.found:
            return
        for name, module in reversed(self.layers):  # backward runs from the head down
            if not _finite(weight_of(module).grad):
                self._record(name, "backward")
                return

    def on_step(self, state: TrainState) -> None:
        if self.found or (self.stop_at is not None and state.step >= self.stop_at):
            state.stop = True
        self._step = state.step + 1

    def on_train_end(self, state: TrainState) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _record(self, layer: str, where: str) -> None:
        self.found = {"step": self._step, "layer": layer, "where": where}


def locate_divergence(
    build_model: Callable[[], nn.Module], data, train: dict[str, Any], step: int
) -> dict[str, Any] | None:
    """Replay a run (a fresh ``build_model()``, ``data``, the same ``fit`` overrides) up to ``step``, every
    layer checked; returns where it first went non-finite, or None if the replay stayed finite."""
    from depthlab.train import fit

    finder = FirstNonFinite(stop_at=step)
    overrides = {k: v for k, v in train.items() if k not in _NOT_REPLAYED}
    fit(build_model(), data, callbacks=[finder], **{**overrides, "quiet": True})
    return finder.found
