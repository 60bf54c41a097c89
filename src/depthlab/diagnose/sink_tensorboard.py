"""The TensorBoard sink of ``watch``: depth-ordered charts in the Custom Scalars tab.

TensorBoard draws a scalar against its step, so each recorded step's profile is written as its own tag,
``watch/<column>/step_<n>``, with the layer index as TensorBoard's step; a custom-scalars layout then puts
every recorded step of a column in one multi-line chart (``watch/<column>/.*``): one chart per column, layer
on the x axis (switch the y axis to log there for gradients). The layer names behind the indices and the
doctor's verdicts are text (the Text tab). Optional: ``pip install 'depthlab[tensorboard]'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from depthlab.diagnose.sinks import CHARTED, LAYER_COLUMNS, by_layer, verdict_cells
from depthlab.diagnose.verdict import COLUMNS as VERDICT_COLUMNS
from depthlab.diagnose.verdict import Verdict
from depthlab.extras import require

CATEGORY = "depthlab watch: x = layer index (input to output), one line per recorded step"


def step_tag(column: str, step: int) -> str:
    return f"watch/{column}/step_{step:07d}"


class TensorBoardSink:
    """Writes a watch's depth profiles and verdicts to an event file in ``logdir``."""

    def __init__(self, logdir: str | Path):
        tensorboard = require("torch.utils.tensorboard", "tensorboard", "log_to='tensorboard:...'")
        self.writer = tensorboard.SummaryWriter(str(logdir))
        self._layers_written = False

    def write_step(self, step: int, rows: Sequence[dict]) -> None:
        if not self._layers_written:
            self._write_layout(rows)
        for column in CHARTED:
            for layer, value in enumerate(by_layer(rows, column)):
                if math.isfinite(value):  # a layer nothing measured (NaN) leaves a gap, not a point
                    self.writer.add_scalar(step_tag(column, step), value, global_step=layer)

    def _write_layout(self, rows: Sequence[dict]) -> None:
        charts = {f"{column} by layer": ["Multiline", [rf"watch/{column}/step_\d+"]] for column in CHARTED}
        self.writer.add_custom_scalars({CATEGORY: charts})
        cells = [[str(row[c]) for c in LAYER_COLUMNS] for row in sorted(rows, key=lambda r: r["layer"])]
        self.writer.add_text("watch/layers", markdown_table(LAYER_COLUMNS, cells))
        self._layers_written = True

    def write_verdicts(self, verdicts: Sequence[Verdict]) -> None:
        self.writer.add_text("doctor/verdicts", markdown_table(VERDICT_COLUMNS, verdict_cells(verdicts)))

    def close(self) -> None:
        self.writer.close()


def markdown_table(header: Sequence[str], cells: list[list[str]]) -> str:
    """A Markdown table (TensorBoard's Text tab renders Markdown); ``|`` in a cell is escaped."""
    lines = [header, ["---"] * len(header), *cells]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)
