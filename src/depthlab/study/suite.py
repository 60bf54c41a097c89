"""A suite: the chosen presets' grids on one data set, run into one directory, then reported.

This is what ``depthlab study`` calls; everything here is also usable from Python. What runs where is the
plan's business (``study.plan``); this module runs it and writes the report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from depthlab.study.plan import Plan, command, data_for, image_datasets, plan
from depthlab.study.report import write_report
from depthlab.study.runner import RunSummary, execute
from depthlab.study.worker import RunFn

DEFAULT_OUT = "runs/study"

__all__ = [
    "DEFAULT_OUT",
    "Plan",
    "command",
    "data_for",
    "default_workers",
    "image_datasets",
    "plan",
    "run_suite",
]


def default_workers() -> int:
    """One worker per core, at most 8 (the quick suite's runs are small; more processes mostly add
    start-up)."""
    return max(1, min(os.cpu_count() or 1, 8))


def run_suite(
    names: list[str] | None = None,
    *,
    size: str = "quick",
    data: str | None = None,
    out: str | Path = DEFAULT_OUT,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    retry_failed: bool = False,
    run_fn: RunFn | None = None,
    device: str | None = None,
    model: str | None = None,
    data_options: dict[str, Any] | None = None,
) -> tuple[RunSummary, Path]:
    """Run the chosen studies (resuming what is stored in ``out``) and write the report; returns (summary,
    html). ``model`` may be a builder (``file.py:build``), ``data`` a file (``data_options``: its target)."""
    plans = plan(names, size, data, device, model, data_options)
    specs = [spec for p in plans for spec in p.specs]
    summary = execute(
        specs,
        out,
        run_fn=run_fn,
        workers=workers,
        backend=backend,
        address=address,
        quiet=quiet,
        retry_failed=retry_failed,
    )
    return summary, write_report(plans, out, size=size, data=data)
