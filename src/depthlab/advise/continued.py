"""A depth's seed-0 run trained in pieces: each halving rung, then the full-budget seed, continues the run
the rung before it paused instead of training it again from the start.

Every piece is one ``fit`` of the same full-budget configuration (the schedule, the data order and the plateau
rule span the whole budget) paused at the piece's step (``TrainConfig.pause_at``) with its state saved; the
next piece resumes it. So the run a depth reaches at the full budget is, step for step, the run trained
there in one go (``tests/test_advise_continued.py`` checks it against one uninterrupted run), and the steps a
rung spent are paid once. A run that stops on its plateau before a pause is finished: later pieces read it
back without training.

Each piece resumes from a copy of the previous piece's checkpoint in its own folder, so a piece cut short
(a killed advise) is redone from the same start, and the previous folder is removed once the piece is done.
Without the previous folder (deleted by hand) a piece trains from the start to its step: the same run,
at the full cost.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from depthlab.advise.config import ACCURACY, Metric
from depthlab.advise.runs import train_run
from depthlab.data import Dataset
from depthlab.train import checkpoint as ckpt

SAVE_ONLY_AT_PAUSE = 10**9  # checkpoint_every in epochs: a piece saves where it pauses or ends, not between


def continued_run(
    model: str,
    model_keys: Mapping[str, Any],
    data: Dataset,
    depth: int,
    train: dict[str, Any],
    stop: int,
    here: Path,
    earlier: tuple[Path, dict[str, Any]] | None = None,
    curve_every: int | None = None,
    metric: Metric = ACCURACY,
) -> dict[str, Any]:
    """Seed 0 of ``depth`` trained to step ``stop`` of its ``train["steps"]`` budget, continuing ``earlier``
    (the previous piece's folder and result) when its checkpoint is there; saved in ``here``. The result is
    ``train_run``'s, with the validation curve from step 0 and ``trained``: the steps this piece ran."""
    shutil.rmtree(here, ignore_errors=True)  # what a piece cut short left: redone from the same start
    start, curve = 0, []
    if earlier is not None and _saved_step(earlier[0]) == earlier[1]["steps"]:
        shutil.copytree(earlier[0], here)
        start, curve = earlier[1]["steps"], list(earlier[1]["val_curve"])
    options = {**train, "pause_at": stop, "checkpoint_dir": str(here), "resume": True}
    options["checkpoint_every"] = SAVE_ONLY_AT_PAUSE
    result = train_run(model, model_keys, data, depth, 0, options, curve_every, metric)
    result["val_curve"] = curve + [tuple(p) for p in result["val_curve"]]
    result["trained"], result["stop"] = result["steps"] - start, stop
    if earlier is not None:
        shutil.rmtree(earlier[0], ignore_errors=True)  # the next piece continues this one
    if stop >= train["steps"]:
        shutil.rmtree(here, ignore_errors=True)  # the run is complete: nothing continues it
    return result


def _saved_step(directory: Path) -> int | None:
    found = ckpt.load_checkpoint(directory) if directory.is_dir() else None
    return None if found is None else found[1]["step"]


def finished_early(run: Mapping[str, Any]) -> bool:
    """Whether the run stopped on its plateau (or diverged) before the step it was trained to: it is final."""
    return run["steps"] < run["stop"] and (bool(run["converged"]) or run["status"] != "ok")
