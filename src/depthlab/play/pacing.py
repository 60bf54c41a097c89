"""When a play job records a step and refreshes its views: a few times a second whatever the step rate, and
never more than a share of the time on views that cost several training steps (an evaluation pass on a deep
net)."""

from __future__ import annotations

import time

RECORD_EVERY_S = 0.05  # record (and publish) at most ~20 steps a second
METRICS_EVERY_S = 0.25  # train/test loss and accuracy, decision boundary
VERDICTS_EVERY_S = 1.0  # the doctor's checks
VIEWS_SHARE = 0.1  # metrics and verdicts each take at most this share of the time
RATE_EVERY_S = 0.5  # steps per second, measured over windows about this long


class Pacer:
    """The record clock, and for each view (metrics, verdicts) when it last ran and what it cost."""

    def __init__(self, now: float) -> None:
        self._last = {"record": now, "metrics": 0.0, "verdicts": 0.0}
        self._cost: dict[str, float] = {}  # seconds the last run of each view took

    def record_due(self, now: float) -> bool:
        return now - self._last["record"] >= RECORD_EVERY_S

    def recorded(self, now: float) -> None:
        self._last["record"] = now

    def view_due(self, view: str, now: float, every: float) -> bool:
        """Every ``every`` seconds, or less often when its last run cost more than VIEWS_SHARE of that."""
        wait = max(every, self._cost.get(view, 0.0) / VIEWS_SHARE)
        return now - self._last[view] >= wait

    def view_ran(self, view: str, started: float) -> None:
        self._last[view] = time.perf_counter()
        self._cost[view] = self._last[view] - started


class StepRate:
    """Training steps per second, over windows of about RATE_EVERY_S."""

    def __init__(self, now: float) -> None:
        self.per_s = 0.0
        self._since, self._step = now, 0

    def restart(self, now: float, step: int) -> None:
        """Count from here (after a pause, whose time is no training)."""
        self._since, self._step = now, step

    def update(self, now: float, step: int) -> None:
        if now - self._since >= RATE_EVERY_S:
            self.per_s = (step - self._step) / (now - self._since)
            self._since, self._step = now, step
