"""Stopping on a plateau of the training loss (the statistics standard, section 4: claims about what a net can
fit are judged at convergence, not after a fixed short budget).

The loss is read on the host only where the engine already reads it (every ``sync_every`` steps), so the
check adds no device sync: the per-step losses of those reads are kept for the last ``2 * window`` steps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import torch
import torch.distributed as dist


def relative_improvement(before: float, after: float) -> float:
    """How much ``after`` improved on ``before``, as a fraction of ``before`` (a loss of 0 has no room)."""
    if before == 0:
        return 0.0
    return (before - after) / abs(before)


class Plateau:
    """Reached when the mean loss of the last ``window`` steps improves on the ``window`` steps before it by
    less than ``tol`` (relative)."""

    def __init__(self, window: int, tol: float, losses: Iterable[float] = ()):
        self.window, self.tol = window, tol
        self.recent: deque[float] = deque(losses, maxlen=2 * window)

    def add(self, losses: Iterable[float]) -> None:
        self.recent.extend(losses)

    def reached(self, world_size: int = 1, device: torch.device | None = None) -> bool:
        """Whether the loss has stopped improving; every rank gets the same answer (the means are averaged
        over ranks, or ranks would stop at different steps and hang in all-reduce)."""
        if len(self.recent) < 2 * self.window:
            return False
        values = list(self.recent)
        before = sum(values[: self.window]) / self.window
        after = sum(values[self.window :]) / self.window
        if world_size > 1:
            means = torch.tensor([before, after], dtype=torch.float64, device=device)
            dist.all_reduce(means)
            before, after = (means / world_size).tolist()
        return relative_improvement(before, after) < self.tol
