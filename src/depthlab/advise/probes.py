"""Cheap probes before any real training: is this depth trainable at all, and what does a step cost?

Gradient flow at initialization predicts trainability (Glorot & Bengio 2010; Schoenholz et al. 2017, "Deep
information propagation", arXiv 1611.01232): when the gradient reaching the first layer is a vanishing
fraction of the last layer's, the early layers barely learn and more depth only adds cost. The probe watches a
few optimizer steps (``depthlab.diagnose.watch``) and reads, at step 0, the first/last-layer ratio of the
activation-gradient RMS (``act_grad_rms``, the doctor's measure; the weight-gradient norm where a watch has no
such column). A depth is dropped when that ratio is below ``UNTRAINABLE_RATIO`` (ten times stricter than the
doctor's warning: a flagged net may still train slowly, and dropping a trainable depth would cost the answer),
or when the loss is already NaN/inf. The same steps time a training step of this depth.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from depthlab.data import Dataset
from depthlab.diagnose import watch
from depthlab.train.config import TrainConfig
from depthlab.train.evaluate import task_loss
from depthlab.train.optim import build_optimizer

UNTRAINABLE_RATIO = 1e-3
FLOW_COLUMNS = ("act_grad_rms", "grad_norm")  # preferred first


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: the gradient-flow ratio at init, seconds per training step, and the call."""

    depth: int
    flow_ratio: float
    flow_column: str
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
                f"gradient flow at init: first/last layer {self.flow_column} ratio {self.flow_ratio:.2g} < "
                f"{UNTRAINABLE_RATIO:g} (vanishing; try norm=batch or residual=true)"
            )
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"trainable": self.trainable, "reason": self.reason()}


def flow_ratio(rows: list[dict]) -> tuple[float, str]:
    """First/last weight layer (along the depth) ratio of the flow measure at the first recorded step."""
    if not rows:
        return math.nan, ""
    column = next((c for c in FLOW_COLUMNS if c in rows[0]), FLOW_COLUMNS[-1])
    first_step = min(r["step"] for r in rows)
    layers = sorted((r for r in rows if r["step"] == first_step), key=lambda r: (r["depth"], r["layer"]))
    first, last = layers[0][column], layers[-1][column]
    if len(layers) < 2 or not (math.isfinite(first) and math.isfinite(last)) or last <= 0:
        return (math.nan if len(layers) >= 2 else 1.0), column
    return first / last, column


def probe(model: nn.Module, data: Dataset, config: TrainConfig, depth: int, steps: int = 8) -> ProbeResult:
    """Train ``model`` for ``steps`` optimizer steps on random batches, watching the first one."""
    torch.manual_seed(config.seed)
    model.train()
    optimizer = build_optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    finite, started = True, 0.0
    with watch(model, every=steps + 1) as w:  # record step 0 only: the flow at initialization
        for step in range(steps):
            if step == 1:
                started = time.perf_counter()  # step 0 pays for the watch and first-call allocations
            idx = torch.randint(
                len(data.x_train), (min(config.batch_size, len(data.x_train)),), generator=generator
            )
            loss = task_loss(model(data.x_train[idx]), data.y_train[idx], data.task)
            finite = finite and bool(torch.isfinite(loss))
            loss.backward()
            w.step()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    per_step = (time.perf_counter() - started) / max(1, steps - 1)
    ratio, column = flow_ratio(w.rows)
    return ProbeResult(depth, ratio, column, per_step, finite, steps)
