"""A study's stored runs written where users keep their runs: TensorBoard or Weights & Biases.

``log_runs(out, "tensorboard:DIR")`` gives every stored run its own TensorBoard run, ``DIR/<study>/<name>``
(the name is the run's tags and seed, so runs of one study overlay in one chart): its training-loss curve
(``curve/loss`` against the step) and its final numeric metrics (``final/<metric>``), and the run's flattened
configuration as text. ``log_runs(out, "wandb[:PROJECT]")`` makes one W&B run per study holding a table of its
runs, one row each, the configuration flattened into columns (the rows of ``depthlab.study.results``).
The same ``log_to`` names as ``watch(model, log_to=...)``; each sink is an optional extra.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from depthlab.diagnose.sink_tensorboard import markdown_table
from depthlab.diagnose.sinks import check_spec
from depthlab.extras import require
from depthlab.study.results import TIMES, flatten
from depthlab.study.store import Store

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,-]+")


def log_runs(out: str | Path, log_to: str) -> int:
    """Write the runs stored in ``out`` to ``log_to``; the number of runs written."""
    kind, where = check_spec(log_to)
    with Store(out) as store:
        rows = [row for row in store.all_rows() if row["status"] == "ok"]
    if kind == "tensorboard":
        for row in rows:
            write_tensorboard_run(Path(where), row)
    else:
        write_wandb_tables(where or "depthlab", rows)
    return len(rows)


def run_name(row: dict[str, Any]) -> str:
    """A readable, unique folder name of a run: its tags, its seed and the start of its hash."""
    spec = row["spec"]
    tags = ",".join(f"{k}={v}" for k, v in sorted((spec.get("tags") or {}).items()))
    return _UNSAFE.sub("_", f"{tags},seed={spec.get('seed', 0)},{row['hash'][:8]}".strip(","))


def final_numbers(row: dict[str, Any]) -> dict[str, float]:
    """The run's final metrics that are finite numbers (what a scalar chart can hold)."""
    metrics = row["metrics"] or {}
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {k: float(v) for k, v in numbers.items() if math.isfinite(v)}


def write_tensorboard_run(logdir: Path, row: dict[str, Any]) -> None:
    tensorboard = require("torch.utils.tensorboard", "tensorboard", "log_to='tensorboard:...'")
    writer = tensorboard.SummaryWriter(str(logdir / row["study"] / run_name(row)))
    for step, loss in (row["history"] or {}).get("curve", []):
        if loss is not None:
            writer.add_scalar("curve/loss", loss, global_step=int(step))
    for name, value in final_numbers(row).items():
        writer.add_scalar(f"final/{name}", value, global_step=0)
    config = flatten(row["spec"])
    writer.add_text("config", markdown_table(["key", "value"], [[k, str(v)] for k, v in config.items()]))
    writer.close()


def write_wandb_tables(project: str, rows: list[dict[str, Any]]) -> None:
    from depthlab.study.results import run_record

    wandb = require("wandb", "wandb", "log_to='wandb'")
    for study in sorted({row["study"] for row in rows}):
        records = [run_record(row) for row in rows if row["study"] == study]
        columns = sorted({k for r in records for k in r if k not in TIMES})
        data = [[_cell(r.get(c)) for c in columns] for r in records]
        run = wandb.init(project=project, name=f"depthlab study {study}", reinit="finish_previous")
        run.log({"runs": wandb.Table(columns=columns, data=data)})
        run.finish()


def _cell(value: Any) -> Any:
    """A table cell W&B can type: numbers and strings as they are, anything else (lists, None) as text."""
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else str(value)
