"""What runs inside a worker: one spec in, one result dict out, never an exception.

A run that raises is a *result* (status ``failed`` with its error), so one bad configuration does not stop a
study; a run whose loss went NaN/inf comes back from the engine as ``diverged``, also a result.
"""

from __future__ import annotations

import os
import platform
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

RunFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def set_threads(threads: int) -> None:
    """Give this process ``threads`` intra-op threads, so N workers on N cores do not oversubscribe them."""
    import torch

    torch.set_num_threads(max(1, threads))
    os.environ["OMP_NUM_THREADS"] = str(max(1, threads))


def environment() -> dict[str, Any]:
    """Where a run ran: versions, machine, threads (stored with every result)."""
    import torch

    from depthlab import __version__

    return {
        "depthlab": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "pid": os.getpid(),
    }


def safe_run(run_fn: RunFn, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``run_fn(spec)`` with its wall time and environment added; an exception becomes a ``failed`` result."""
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        result = dict(run_fn(spec))
        result.setdefault("status", "ok")
        # CPU seconds of this process (all its threads): what a run costs, unlike wall time, does not grow
        # when other processes share the cores; the suite's time budget is kept in these.
        result["metrics"] = {**(result.get("metrics") or {}), "cpu_seconds": time.process_time() - cpu_start}
    except Exception as err:  # a failed run is recorded, and the study goes on
        result = {
            "status": "failed",
            "error": f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}",
        }
    result["run_seconds"] = time.perf_counter() - start
    try:
        result["env"] = environment()
    except Exception:  # the environment is informative only
        result["env"] = {}
    return result


def pool_initializer(threads: int) -> None:
    """Per-process set-up of a local pool worker."""
    set_threads(threads)


def pool_run(run_fn: RunFn, key: str, spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Entry point of a pool task: the key travels with the result."""
    return key, safe_run(run_fn, spec)


def ray_run(run_fn: RunFn, key: str, spec: Mapping[str, Any], threads: int) -> tuple[str, dict[str, Any]]:
    """Entry point of a Ray task (Ray reuses worker processes, so threads are set per task)."""
    set_threads(threads)
    return key, safe_run(run_fn, spec)
