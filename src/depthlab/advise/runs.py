"""One training run of the advice: a depth, a seed and a step budget, with its validation learning curve.

With the default constant learning rate, a shorter run is the exact prefix of a longer one with the same seed
(same init, same data order), so the curves of successive rungs continue each other. The validation accuracy
is read every ``curve_every`` steps by a callback (evaluation mode, no gradients: it does not change the run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from depthlab.data import Dataset
from depthlab.train import Callback, TrainState
from depthlab.train.engine import resolve_config
from depthlab.train.evaluate import evaluate
from depthlab.train.launch import build_and_fit


class ValidationCurve(Callback):
    """Records ``(step, validation accuracy)`` every ``every`` steps."""

    def __init__(self, every: int):
        self.every = max(1, int(every))
        self.points: list[tuple[int, float]] = []

    def on_step(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            data = state.data
            acc = evaluate(state.model, data.x_val, data.y_val, data.task).get("acc", float("nan"))
            self.points.append((state.step, acc))


def train_run(
    model: str,
    model_keys: Mapping[str, Any],
    data: Dataset,
    depth: int,
    seed: int,
    train: dict[str, Any],
    curve_every: int | None = None,
) -> dict[str, Any]:
    """Train a fresh ``model`` of ``depth`` with ``seed``; returns a JSON-safe result (status, metrics,
    curve)."""
    curve = ValidationCurve(curve_every) if curve_every else None
    config = resolve_config(None, {"seed": seed, "quiet": True, **train})
    keys = {**model_keys, "depth": depth}
    _, history = build_and_fit(model, data, config, keys, callbacks=[curve] if curve else [])
    final = history.final
    return {
        "status": history.status,
        "depth": depth,
        "seed": seed,
        "steps": history.steps,
        "converged": history.converged,
        "val_acc": final.get("val_acc"),
        "test_acc": final.get("test_acc"),
        "train_acc": final.get("train_acc"),
        "val_curve": curve.points if curve else [],
        "wall_time": history.wall_time,
    }
