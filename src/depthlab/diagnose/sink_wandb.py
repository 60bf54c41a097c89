"""The Weights & Biases sink of ``watch``: depth-ordered line charts, the tidy table and the verdicts.

W&B's own gradient view is one histogram per parameter tensor with no depth order (wandb issues #1537,
#1765, #4699). This sink logs, when the watch stops, one ``wandb.plot.line_series`` per charted column
(``watch/<column>``: layer index on the x axis, one line per recorded step, log10 of the value since
gradients span decades; at most ``max_lines`` steps, evenly spread, so the chart stays readable), the whole
watch table (``watch/table``, one row per step x layer, for W&B's own custom charts) and the doctor's verdicts
(``doctor/verdicts``). It logs into the active run when there is one (and leaves it open), else it starts a
run in ``project`` and finishes it. Offline: ``WANDB_MODE=offline``.
Optional: ``pip install 'depthlab[wandb]'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from depthlab.diagnose.sinks import CHARTED, by_layer, verdict_cells
from depthlab.diagnose.verdict import COLUMNS as VERDICT_COLUMNS
from depthlab.diagnose.verdict import Verdict
from depthlab.diagnose.watch_table import COLUMNS
from depthlab.errors import DepthlabError
from depthlab.extras import require


class WandbSink:
    """Buffers a watch's recorded steps and logs them to W&B as charts and tables on ``close``."""

    def __init__(self, project: str = "depthlab", max_lines: int = 10, **init):
        if not isinstance(max_lines, int) or max_lines < 2:
            raise DepthlabError(f"max_lines={max_lines!r}: must be an integer >= 2 (the first and last step)")
        self.wandb = require("wandb", "wandb", "log_to='wandb'")
        self._own_run = self.wandb.run is None
        self.run = self.wandb.init(project=project, **init) if self._own_run else self.wandb.run
        self.max_lines = max_lines
        self.steps: list[tuple[int, list[dict]]] = []
        self.verdicts: list[Verdict] = []

    def write_step(self, step: int, rows: Sequence[dict]) -> None:
        self.steps.append((step, list(rows)))

    def write_verdicts(self, verdicts: Sequence[Verdict]) -> None:
        self.verdicts = list(verdicts)

    def close(self) -> None:
        logged = {f"watch/{column}": self._chart(column) for column in CHARTED if self.steps}
        table = [[_cell(row[c]) for c in COLUMNS] for _, rows in self.steps for row in rows]
        logged["watch/table"] = self.wandb.Table(columns=list(COLUMNS), data=table)
        logged["doctor/verdicts"] = self.wandb.Table(
            columns=list(VERDICT_COLUMNS), data=verdict_cells(self.verdicts)
        )
        self.run.log(logged)
        if self._own_run:
            self.run.finish()

    def _chart(self, column: str):
        shown = spread(self.steps, self.max_lines)
        return self.wandb.plot.line_series(
            xs=list(range(len(shown[0][1]))),
            ys=[[_log10(v) for v in by_layer(rows, column)] for _, rows in shown],
            keys=[f"step {step}" for step, _ in shown],
            title=f"log10 {column} by layer",
            xname="layer",
        )


def spread(items: list, most: int) -> list:
    """At most ``most`` of ``items``, evenly spaced, the first and the last included."""
    if len(items) <= most:
        return items
    picked = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    return [items[i] for i in picked]


def _log10(value: float) -> float | None:
    return math.log10(value) if value > 0 and math.isfinite(value) else None


def _cell(value):
    """A table cell W&B can store as JSON: NaN (nothing measured) becomes null."""
    return None if isinstance(value, float) and math.isnan(value) else value
