"""What the page sees of a play job: its newest update, one JSON object, and the listeners woken by each.

The training thread sets the fields (status, step, loss, the views) and calls ``emit``; the server's threads
read ``message`` when ``seq`` moves (the newest update replaces the last: a slow page skips updates, it never
queues them). The update is one dict encoded by one ``json.dumps``: on a small 2-D net the decision boundary
makes that a few milliseconds (``benchmarks/bench_play_message.py``, in BENCHMARKS.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from depthlab.play.channels import Listeners

VIEWS = ("layers", "metrics", "boundary", "verdicts")
TIMINGS = ("train_ms", "stats_ms", "views_ms", "json_ms")  # ms per update, shown in the page's status line


class Publisher:
    """The job's fields as the page reads them; ``emit`` encodes them into ``message`` and wakes listeners."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.status, self.reason = "starting", ""
        self.step = 0  # steps done
        self.loss: float | None = None  # the last recorded step's training loss (None until one is)
        self.steps_per_s = 0.0
        self.views: dict[str, Any] = {"layers": None, "metrics": None, "boundary": None, "verdicts": []}
        self.timing = dict.fromkeys(TIMINGS, 0.0)
        self.seq, self.message = 0, "{}"
        self._listeners = Listeners()

    def subscribe(self, notify: Callable[[], None]) -> None:
        self._listeners.add(notify)

    def unsubscribe(self, notify: Callable[[], None]) -> None:
        self._listeners.remove(notify)

    def emit(self, stamp: float | None = None) -> None:
        """Encode the update (``stamp``: when its step ended, for the page's step→paint latency) and wake the
        listeners."""
        started = time.perf_counter()
        message = json.dumps(self._update(stamp or time.time()), allow_nan=False)
        self.timing["json_ms"] = 1000 * (time.perf_counter() - started)
        self.message, self.seq = (
            message,
            self.seq + 1,
        )  # the message first: a reader that sees seq move reads it
        self._listeners.notify_all()

    def _update(self, stamp: float) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "seq": self.seq + 1,
            "t": round(1000 * stamp, 1),
            "step": self.step,
            "status": self.status,
            "reason": self.reason,
            "steps_per_s": round(self.steps_per_s, 1),
            "loss": self.loss,
            "timing": {k: round(v, 2) for k, v in self.timing.items()},
            **self.views,
        }
