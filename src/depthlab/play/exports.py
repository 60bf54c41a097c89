"""What the page exports: the watch table as CSV, the weights as safetensors, the setup as a command line.

Model and watch are read on the training thread between two steps (``Job.call``), so a download is one
consistent step even while the job trains.
"""

from __future__ import annotations

import csv
import io

from depthlab.diagnose.watch import COLUMNS
from depthlab.play.job import Job


def _rows(job: Job) -> list[dict]:
    return list(job.watch.rows) if job.watch is not None else []


def watch_csv(job: Job) -> str:
    """The current watch window (up to ``recorder.WINDOW`` recorded steps) as CSV, watch columns first."""
    rows = job.call(_rows)
    extra = [k for k in (rows[0] if rows else {}) if k not in COLUMNS]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, *extra], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _state(job: Job) -> dict:
    if job.model is None:
        return {}
    return {k: v.detach().cpu().clone().contiguous() for k, v in job.model.state_dict().items()}


def weights(job: Job) -> bytes:
    """The model's state dict as safetensors bytes (loads with ``safetensors.torch.load``, no pickle)."""
    from safetensors.torch import save

    state = job.call(_state)
    metadata = {"model": job.setup.model, "command": job.setup.command()}
    return save(state, metadata=metadata)
