"""The plateau rule: when a training loss has stopped falling (the statistics standard, section 4: claims
about what a net can fit are judged at convergence, not after a fixed short budget).

The rule reads a smoothed trend, not single steps: the size-weighted mean loss of the last ``window`` steps
against the ``window`` steps before it. A plateau is a window that improved on the one before by at least 0
and by less than ``tol`` (relative). A window whose loss *rose* is a spike (Adam at a constant rate spikes now
and then) or a divergence, never a plateau; and a run stops only where its latest loss read is not above the
last window's mean by more than ``tol``, so it is never stopped, and then scored, in the middle of a spike.

Means are weighted by batch size, so the partial last batch of an epoch (16 examples, say) counts for its
16 examples instead of for a whole step. The loss is read on the host only where the engine already reads it
(every ``sync_every`` steps), so the rule adds no device sync.

One convergence rule for the whole lab (:func:`settled_step`): a run has settled once its plateau rule held,
or once it fits its training set (a loss on its way to 0 keeps improving in relative terms, so a net that
fits its data may never "plateau").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist

FITS = 0.999  # training accuracy at which a run has nothing left to fit


def relative_improvement(before: float, after: float) -> float:
    """How much ``after`` improved on ``before``, as a fraction of ``before`` (negative when it rose; a
    loss of 0 has no room)."""
    if before == 0:
        return 0.0
    return (before - after) / abs(before)


def is_plateau(before: float, after: float, latest: float, tol: float) -> bool:
    """The rule on three smoothed readings: the window mean ``after`` improved on ``before`` by at least 0
    and by less than ``tol``, and the ``latest`` read is not above ``after`` by more than ``tol``."""
    improved = relative_improvement(before, after)
    return 0 <= improved < tol and relative_improvement(after, latest) >= -tol


class Plateau:
    """The plateau rule over the last ``2 * window`` steps, each kept as (mean loss, batch size)."""

    def __init__(self, window: int, tol: float, steps: Iterable[Sequence[float]] = ()):
        self.window, self.tol = window, tol
        self.recent: deque[tuple[float, float]] = deque(maxlen=2 * window)
        self.latest = 0  # steps in the latest read
        steps = [tuple(s) if isinstance(s, (list, tuple)) else (s, 1.0) for s in steps]  # old: losses
        if steps:
            self.add([loss for loss, _ in steps], [size for _, size in steps])

    def add(self, losses: Iterable[float], sizes: Iterable[float] | None = None) -> None:
        """One loss read: per-step losses and their batch sizes (equal sizes when not given)."""
        losses = list(losses)
        sizes = [1.0] * len(losses) if sizes is None else list(sizes)
        self.recent.extend(zip(losses, sizes, strict=True))
        self.latest = len(losses)

    def state(self) -> list[list[float]]:
        """The kept steps, for a checkpoint (``Plateau(window, tol, state)`` restores them)."""
        return [list(step) for step in self.recent]

    def reached(self, world_size: int = 1, device: torch.device | None = None) -> bool:
        """Whether the loss has stopped falling; every rank gets the same answer (the means are averaged
        over ranks, or ranks would stop at different steps and hang in all-reduce)."""
        if len(self.recent) < 2 * self.window:
            return False
        steps = list(self.recent)
        readings = [
            _weighted_mean(steps[: self.window]),
            _weighted_mean(steps[self.window :]),
            _weighted_mean(steps[-max(1, self.latest) :]),
        ]
        if world_size > 1:
            means = torch.tensor(readings, dtype=torch.float64, device=device)
            dist.all_reduce(means)
            readings = (means / world_size).tolist()
        return is_plateau(*readings, self.tol)


def _weighted_mean(steps: Sequence[tuple[float, float]]) -> float:
    return sum(loss * size for loss, size in steps) / sum(size for _, size in steps)


def settled_step(history: Mapping[str, Any]) -> int | None:
    """The first step at which a run had settled (its plateau rule held, or a record shows it fitting its
    training set: training accuracy >= ``FITS``); None when it never did. ``history`` is
    ``History.to_dict()``."""
    steps = [history["plateau_step"]] if history.get("plateau_step") else []
    if history.get("converged") and not steps:  # stored before plateau_step existed: it stopped there
        steps.append(history.get("steps"))
    for record in history.get("records") or []:
        acc = record.get("trainset_acc", record.get("train_acc"))
        if acc is not None and acc >= FITS:
            steps.append(record["step"])
            break
    if ((history.get("final") or {}).get("train_acc") or 0) >= FITS:
        steps.append(history.get("steps"))
    return min(steps) if steps else None
