"""The study runner: skip what is stored, run the rest on a backend, store each result as it arrives.

Resumable by construction: a run is looked up by its hash before anything starts, so rerunning a command after
an interruption redoes only the runs that had not finished.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depthlab import atomic
from depthlab.page import html_table
from depthlab.study.backends import check_options, run_jobs
from depthlab.study.lock import DirLock
from depthlab.study.progress import StudyProgress, describe
from depthlab.study.spec import dedupe, run_hash
from depthlab.study.store import Store
from depthlab.study.worker import RunFn


@dataclass
class RunSummary:
    """What one invocation did: runs in the grid, skipped as already stored, and the statuses of the new
    ones."""

    total: int
    skipped: int
    statuses: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0
    run_seconds: float = 0.0  # sum of the runs' own wall times (inside the workers)

    @property
    def ran(self) -> int:
        return sum(self.statuses.values())

    def _repr_html_(self) -> str:
        """In a notebook: what this invocation ran (``depthlab.study.results(out)`` holds every run)."""
        header = ("runs in the grid", "already stored", "ran", *self.statuses, "wall seconds")
        row = (self.total, self.skipped, self.ran, *self.statuses.values(), round(self.wall_seconds, 1))
        return html_table(header, [row])


def default_run_fn() -> RunFn:
    """The real task runner (imported late: it pulls in torch, models and data)."""
    from depthlab.study.tasks import run_spec

    return run_spec


def execute(
    specs: Sequence[dict[str, Any]],
    directory: str | Path,
    *,
    run_fn: RunFn | None = None,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    retry_failed: bool = False,
) -> RunSummary:
    """Run every spec not yet stored in ``directory``'s database; returns what was done."""
    specs = dedupe(specs)
    check_options(backend, workers)  # before the directory is created
    with DirLock(directory), Store(directory) as store:
        atomic.remove_stale_temps(directory)  # a report write that a kill -9 cut short
        keep = ("ok", "diverged") if retry_failed else ("ok", "diverged", "failed")
        stored = store.finished_hashes(keep)
        jobs = [(run_hash(s), s) for s in specs if run_hash(s) not in stored]
        summary = RunSummary(total=len(specs), skipped=len(specs) - len(jobs))
        labels = {key: describe(spec) for key, spec in jobs}
        by_key = dict(jobs)
        start = time.perf_counter()
        with StudyProgress(len(specs), summary.skipped, quiet) as progress:
            results = run_jobs(
                jobs,
                run_fn or default_run_fn(),
                workers=workers,
                backend=backend,
                address=address,
                on_start=lambda key: progress.started(key, labels[key]),
            )
            for key, result in results:
                store.put(key, by_key[key].get("study", ""), by_key[key], result)
                summary.statuses[result["status"]] += 1
                summary.run_seconds += result.get("run_seconds") or 0.0
                progress.finished(key, result["status"])
        summary.wall_seconds = time.perf_counter() - start
    return summary
