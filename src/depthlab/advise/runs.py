"""The pieces an advice runs on this machine, and the ledger that keeps each one once finished.

**Latency** per depth, measured on this machine with depthlab's one timer (``diagnose.timing``). The model is
timed in the form it would ship in, ``depthlab.deploy.deploy_form`` (the one the studies time): eval mode, no
autograd, every ParNet block's branches folded into one 3x3 conv and every BatchNorm after a conv or linear
folded into it. Weights do not change the time, so an untrained model of the same config is timed; the
reported value is the median milliseconds per forward within ``budget`` seconds of timed calls. On the CPU it
is timed on one thread, as the cost study times it: a small model's forward gains little from a second thread,
and a median over two threads on a shared machine reads the other load (measured: a ResNet-20 at 177 ms
against 6 ms on one busy 2-core machine).

**Probes**, cheap, before any real training: is this depth trainable at all, and what does a step cost?
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

**Runs.** A training run of the advice: a depth, a seed and a step budget, with its validation learning curve.
A rung's run is seed 0 of the full-budget run paused at the rung's step, and the next rung continues it
(``advise.continued``): the curves of successive rungs are one curve, whatever the schedule. The validation
score (accuracy, or minus the RMSE of a regression) is read every ``curve_every`` steps by a callback
(evaluation mode, no gradients: it does not change the run).

**The ledger.** Every finished piece of an advice (probe, latency, rung run, final run) is one row of the
study Store, so a killed advise resumes where it stopped: a piece is keyed by the hash of what determines it
(data, model, training, depth, seed, steps), written only when finished, and read back instead of redone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from depthlab.advise.config import ACCURACY, Metric
from depthlab.advise.curves import Prediction, extrapolate
from depthlab.data import Dataset
from depthlab.deploy import deploy_form
from depthlab.diagnose import remedies
from depthlab.diagnose.checks import THRESHOLDS, flow, recorded_steps
from depthlab.diagnose.timing import time_forward
from depthlab.diagnose.watch import Watch
from depthlab.models.base import random_input
from depthlab.models.params import count_params
from depthlab.study.spec import run_hash
from depthlab.study.store import Store
from depthlab.train import Callback, TrainConfig, TrainState, fit
from depthlab.train.engine import resolve_config
from depthlab.train.evaluate import evaluate
from depthlab.train.launch import build_and_fit

STUDY = "advise"
UNTRAINABLE_RATIO = THRESHOLDS["vanishing_ratio"]  # the doctor's: one threshold for both


# --- latency ------------------------------------------------------------------------------------------------


def _folded(model: nn.Module, deployed: nn.Module) -> bool:
    # A fold (branches into one conv, a BN's affine pair into its conv) removes parameters; a model with
    # nothing to fold keeps them all, and its row is labelled with the train form it was timed in.
    return count_params(deployed)[0] < count_params(model)[0]


def latency_ms(
    model: nn.Module, input_shape: tuple[int, ...], batch: int, device: str = "cpu", budget: float = 0.2
) -> tuple[float, str]:
    """Median milliseconds per forward of a ``batch`` on ``device`` in the deploy form, and the form's name
    (``deploy``, or ``train`` when there was nothing to fold)."""
    model = model.to(device)
    deployed = deploy_form(model)
    x = random_input(model, input_shape, batch, device=device)
    threads = 1 if x.device.type == "cpu" else None
    timing = time_forward(deployed, x, budget, threads=threads)
    return timing.ms, "deploy" if _folded(model, deployed) else "train"


# --- probes -------------------------------------------------------------------------------------------------


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


# The doctor's remedies for a net that does not train, in the order it gives them (``diagnose.remedies``):
# batch normalization (Ioffe & Szegedy 2015, arXiv 1502.03167), then skip connections with it (He et al. 2016,
# arXiv 1512.03385).
VARIANTS = (("BN", {"norm": "batch"}), ("residual+BN", {"norm": "batch", "residual": True}))
FIXED_BY_USER = ("norm", "residual")


def remedy_variants(model: str, options: Mapping[str, Any], depth: int) -> list[tuple[str, dict[str, Any]]]:
    """The variants to try for ``depth`` when the user's does not train: each one the model's config can take
    and that changes it; none when the user set ``norm`` or ``residual`` (their variant is kept)."""
    from depthlab import config as cfg
    from depthlab.models import model_config

    if any(key in options for key in FIXED_BY_USER):
        return []
    dials = cfg.as_dict(model_config(model, **{**options, "depth": depth}))
    return [(name, dict(keys)) for name, keys in VARIANTS if remedies.pick(dials, [keys])]


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


# --- training runs ------------------------------------------------------------------------------------------


class ValidationCurve(Callback):
    """Records ``(step, validation score)`` every ``every`` steps (accuracy, or minus the RMSE)."""

    def __init__(self, every: int, metric: Metric = ACCURACY):
        self.every = max(1, int(every))
        self.metric = metric
        self.points: list[tuple[int, float]] = []

    def on_step(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            data = state.data
            found = evaluate(state.model, data.x_val, data.y_val, data.task)
            score = self.metric.score({f"val_{k}": v for k, v in found.items()})
            self.points.append((state.step, float("nan") if score is None else score))


def r_squared(mse: float | None, y: torch.Tensor) -> float | None:
    """1 - MSE / the variance of ``y`` (the split's own mean as the baseline), None without an MSE."""
    variance = float(y.float().var(correction=0)) if len(y) else 0.0
    return None if mse is None or variance == 0 else 1.0 - mse / variance


def train_run(
    model: str,
    model_keys: Mapping[str, Any],
    data: Dataset,
    depth: int,
    seed: int,
    train: dict[str, Any],
    curve_every: int | None = None,
    metric: Metric = ACCURACY,
) -> dict[str, Any]:
    """Train a fresh ``model`` of ``depth`` with ``seed``; returns a JSON-safe result (status, the validation
    and test scores by ``metric``, the metrics themselves, the validation curve of scores)."""
    curve = ValidationCurve(curve_every, metric) if curve_every else None
    config = resolve_config(None, {"seed": seed, "quiet": True, **train})
    keys = {**model_keys, "depth": depth}
    _, history = build_and_fit(model, data, config, keys, callbacks=[curve] if curve else [])
    final = history.final
    result = {
        "status": history.status,
        "depth": depth,
        "seed": seed,
        "steps": history.steps,
        "converged": history.converged,
        "score": metric.score(final, "val"),
        "test_score": metric.score(final, "test"),
        "val_acc": final.get("val_acc"),
        "test_acc": final.get("test_acc"),
        "train_acc": final.get("train_acc"),
        "train_loss": final.get("train_loss"),  # eval mode, the whole training split (degradation reads it)
        "val_curve": curve.points if curve else [],
        "wall_time": history.wall_time,
    }
    if data.task == "regression":
        for split in ("val", "test"):
            result[f"{split}_rmse"] = metric.shown(result["score" if split == "val" else "test_score"])
            result[f"{split}_r2"] = r_squared(final.get(f"{split}_loss"), getattr(data, f"y_{split}"))
    return result


def measured(run: dict, steps: int, bounds: tuple[float, float] = (0.0, 1.0)) -> Prediction:
    """One seed's validation score at the full budget as a zero-width prediction."""
    value = run["score"] if run["status"] == "ok" and run["score"] is not None else math.nan
    return Prediction(value, value, value, steps, "one seed", bounds)


def predict(run: dict, target: int, bounds: tuple[float, float] = (0.0, 1.0)) -> Prediction:
    """The run's validation curve of scores extrapolated to ``target`` steps."""
    points = [(s, a) for s, a in run["val_curve"] if a is not None and math.isfinite(a)]
    return extrapolate([s for s, _ in points], [a for _, a in points], target, bounds)


# --- the ledger ---------------------------------------------------------------------------------------------


class Ledger:
    """Finished pieces of one advice, in ``out/results.sqlite``; counts what was reused and what was run."""

    def __init__(self, out: str | Path, context: Mapping[str, Any]):
        self.store = Store(out)
        self.context = dict(context)
        self.reused = 0
        self.ran = 0

    def spec(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"advise": kind, **self.context, **fields}

    def get_or_run(self, kind: str, fields: Mapping[str, Any], work: Callable[[], dict]) -> dict[str, Any]:
        """The stored result of this piece, or ``work()``'s, stored before it is returned."""
        spec = self.spec(kind, **fields)
        key = run_hash(spec)
        row = self.store.get(key)
        if row is not None and row["status"] != "failed":
            self.reused += 1
            return row["metrics"]
        result = work()
        self.store.put(key, STUDY, spec, {"status": result.get("status", "ok"), "metrics": result})
        self.ran += 1
        return result

    def close(self) -> None:
        self.store.close()
