"""One timer for every latency depthlab reports: ``torch.utils.benchmark``'s adaptive timing.

``Timer.adaptive_autorange`` first runs the statement a few times to size its blocks of calls (the timer's own
overhead under 0.01 % of a block); those calls are also the warm-up (lazy allocations, oneDNN's kernel
choice, the thread pool's first wake-up). It then times whole blocks, synchronizing the GPU around each,
until the median is known to 10 % (an interquartile range under a tenth of it, over at least four blocks) or
``budget`` seconds of timed calls are spent. The median per call is reported: a slow first block, or one a
busy machine stretches, does not move it. Threads: torch's own count unless the caller names one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

from depthlab.errors import check

CONFIDENCE = 0.1  # stop once the blocks' interquartile range is under this fraction of their median
MIN_SECONDS = 0.01  # the least timed time before the confidence rule may stop the timing


@dataclass(frozen=True)
class Timing:
    """Median seconds per call, and the calls timed (the sizing calls before them not counted)."""

    seconds: float
    calls: int

    @property
    def ms(self) -> float:
        return 1e3 * self.seconds


def check_budget(seconds: float) -> None:
    """A time budget must be a positive, finite number of seconds."""
    check(
        isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0,
        f"time budget {seconds!r}: must be a positive number of seconds",
    )


def time_calls(
    fn: Callable[[], object],
    budget: float,
    *,
    threads: int | None = None,
    clock: Callable[[], float] | None = None,
) -> Timing:
    """The median time of one call of ``fn()``, within ``budget`` seconds of timed calls (module docstring);
    ``clock`` replaces torch's timer, which synchronizes the GPU."""
    check_budget(budget)
    timer = benchmark.Timer(
        "fn()",
        globals={"fn": fn},
        num_threads=threads or torch.get_num_threads(),
        **({"timer": clock} if clock else {}),
    )
    found = timer.adaptive_autorange(CONFIDENCE, min_run_time=min(MIN_SECONDS, budget), max_run_time=budget)
    return Timing(found.median, found.number_per_run * len(found.raw_times))


def time_forward(
    model: nn.Module,
    x: torch.Tensor,
    budget: float,
    *,
    threads: int | None = None,
    clock: Callable[[], float] | None = None,
) -> Timing:
    """The median time of one forward ``model(x)`` with autograd off, the model in the mode and form it is in
    (``depthlab.deploy.deploy_form`` gives the form one ships)."""
    with torch.inference_mode():  # the timer calls ``fn`` in this thread, so the mode holds for every call
        return time_calls(lambda: model(x), budget, threads=threads, clock=clock)
