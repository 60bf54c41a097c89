"""A suite: the chosen presets' grids on one data set, run into one directory, then reported.

This is what ``depthlab study`` calls; everything here is also usable from Python.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab.errors import unknown
from depthlab.study.presets import SIZES, Study, get_study, list_studies
from depthlab.study.runner import RunSummary, execute
from depthlab.study.worker import RunFn

DEFAULT_OUT = "runs/study"
DEFAULT_DATA = "mnist1d"
# Data sets laid out as images (C, H, W): the ones an image-only model (ParNet) can take.
IMAGE_DATA = (
    "digits",
    "digits_shuffled",
    "mnist5k",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "shapeset",
    "imagefolder",
)


def default_workers() -> int:
    """One worker per core, at most 8 (the quick suite's runs are small; more processes mostly add
    start-up)."""
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass
class Plan:
    """One study's share of a suite: the data set it runs on (and why), and its specs."""

    study: Study
    data: str
    note: str
    specs: list[dict[str, Any]]


def data_for(study: Study, data: str | None) -> tuple[str, str]:
    """The data set a study runs on for the user's ``--data`` choice, and a note when it had to differ."""
    if "scalar" in study.data_kinds:
        return study.default_data, f"runs on its own task ({study.default_data}); --data does not apply"
    if data is None:
        return study.default_data, ""
    if "image" in study.data_kinds and data not in IMAGE_DATA:
        return study.default_data, f"needs image data; {data!r} is not, so it runs on {study.default_data!r}"
    return data, ""


def plan(names: list[str] | None = None, size: str = "quick", data: str | None = None) -> list[Plan]:
    """The specs of every chosen study (all presets when ``names`` is empty)."""
    if size not in SIZES:
        raise unknown("study size", size, SIZES)
    if data is not None:
        from depthlab.data.registry import DATASETS

        DATASETS.get(data)  # an unknown name fails here, not as every run failing
    plans = []
    for name in names or list_studies():
        study = get_study(name)
        chosen, note = data_for(study, data)
        plans.append(Plan(study, chosen, note, study.grid(size, chosen)))
    _validate(plans)
    return plans


def _validate(plans: list[Plan]) -> None:
    # A bad --data or a preset key the models do not know fails here, before any run starts.
    from depthlab.study.tasks import validate

    for spec in (s for p in plans for s in p.specs):
        validate(spec)


def command(names: list[str] | None, size: str, data: str | None, out: str | Path) -> str:
    """The exact command line that reproduces a suite (or one study of it)."""
    words = ["depthlab", "study", *(names or []), f"--{size}"]
    words += ["--data", data] if data else []
    return shlex.join([*words, "--out", str(out)])


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
) -> tuple[RunSummary, Path]:
    """Run the chosen studies (resuming what is stored in ``out``) and write the report; returns (summary,
    html)."""
    from depthlab.study.report import write_report

    plans = plan(names, size, data)
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
