"""Cheap probes before any real training: is this depth trainable at all, and what does a step cost?

Gradient flow at initialization predicts trainability (Glorot & Bengio 2010; Schoenholz et al. 2017, "Deep
information propagation", arXiv 1611.01232): when the gradient reaching the first layer is a vanishing
fraction of the last layer's, the early layers barely learn and more depth only adds cost. The probe watches a
few optimizer steps (``depthlab.diagnose.watch``) and judges the flow at step 0 exactly as the doctor does
(``depthlab.diagnose.checks.flow``: the first/last hidden-layer ratio of the activation-gradient RMS
``act_grad_rms``, the head left out) against the doctor's own threshold (``THRESHOLDS["vanishing_ratio"]``),
so a depth the advisor drops is one ``depthlab doctor`` flags for vanishing gradients, by one implementation.
A net with fewer than two hidden layers has no ratio and is kept. A depth is also dropped when the loss is
already NaN/inf (the run diverged). The probe is a short ``fit`` run (same batches, schedule and seeding as
any run), so the same steps time a training step of this depth: by the wall clock between steps as they run,
not by ``diagnose.timing``, because they are training steps of a fixed count that the budget is charged for,
and the benchmark timer would add calls of its own.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from depthlab.data import Dataset
from depthlab.diagnose.checks import THRESHOLDS, flow, recorded_steps
from depthlab.diagnose.watch import Watch
from depthlab.train import Callback, TrainConfig, TrainState, fit
from depthlab.train.engine import resolve_config

UNTRAINABLE_RATIO = THRESHOLDS["vanishing_ratio"]  # the doctor's: one threshold for both


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: the gradient-flow ratio at init (NaN: fewer than two hidden layers, not judged),
    seconds per training step, and the call."""

    depth: int
    flow_ratio: float
    seconds_per_step: float
    finite: bool
    steps: int

    @property
    def trainable(self) -> bool:
        return self.finite and not (self.flow_ratio < UNTRAINABLE_RATIO)

    def reason(self) -> str:
        """Why a depth was dropped ('' when it was not)."""
        if not self.finite:
            return "loss is NaN/inf within the probe steps (try a lower lr or norm=batch)"
        if self.flow_ratio < UNTRAINABLE_RATIO:
            return (
                f"gradient flow at init: first/last hidden-layer act_grad_rms ratio {self.flow_ratio:.2g} < "
                f"{UNTRAINABLE_RATIO:g}, the doctor's vanishing-gradient threshold (try norm=batch or "
                "residual=true)"
            )
        return ""

    def to_dict(self) -> dict[str, Any]:
        judged = self.flow_ratio if math.isfinite(self.flow_ratio) else None  # JSON has no NaN
        return asdict(self) | {"flow_ratio": judged, "trainable": self.trainable, "reason": self.reason()}


def flow_ratio(rows: list[dict]) -> float:
    """The doctor's first/last hidden-layer ``act_grad_rms`` ratio at the first recorded step (NaN when it
    cannot be judged: fewer than two hidden layers)."""
    found = flow(recorded_steps(rows))
    return found.first if found is not None else math.nan


class StepClock(Callback):
    """Seconds per training step, from the end of the first step to the end of the last (the first pays for
    the watch and first-call allocations)."""

    def __init__(self):
        self.started: float | None = None
        self.ended, self.steps = 0.0, 0

    def on_step(self, state: TrainState) -> None:
        if state.loss is not None and state.loss.is_cuda:
            torch.cuda.synchronize()  # the step's kernels, not their launch
        now = time.perf_counter()
        if state.step == 1:
            self.started = now
        self.ended, self.steps = now, state.step

    def per_step(self) -> float:
        return 0.0 if self.started is None else (self.ended - self.started) / max(1, self.steps - 1)


def probe(model: nn.Module, data: Dataset, config: TrainConfig, depth: int, steps: int = 8) -> ProbeResult:
    """Train ``model`` for ``steps`` steps with ``fit`` and ``config``, watching the first one."""
    run = resolve_config(config, {"steps": steps, "quiet": True, "eval_every": steps, "plateau_window": None})
    flow_watch, clock = Watch(model, every=steps + 1), StepClock()  # record step 0: the flow at init
    history = fit(model, data, run, callbacks=[flow_watch, clock])
    finite = history.status != "diverged"
    return ProbeResult(depth, flow_ratio(flow_watch.rows), clock.per_step(), finite, steps)
