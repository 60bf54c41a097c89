"""Feeding a sink as a watch records: each recorded step once its update ratio is known, then, when the watch
stops, the steps still pending and the doctor's verdicts on the whole table; then the sink is closed.

Handing a step over turns its record into rows, the one host sync per recorded step a sink costs
(``benchmarks/bench_watch_sinks.py``); without a sink the table syncs only when read.
"""

from __future__ import annotations

import itertools

from depthlab.diagnose.checks import check_rows
from depthlab.diagnose.sinks import Sink, check_spec
from depthlab.diagnose.watch_table import StepRecords


class SinkFeed:
    """The sink ``log_to`` names, and how many rows of the table it has been given."""

    def __init__(self, log_to: str | Sink):
        self.sink = open_sink(log_to)
        self._sent = 0

    def send_complete(self, records: StepRecords, depth_of: dict[str, int]) -> None:
        """Send every recorded step whose update ratio is known and that the sink has not had."""
        if records.update_pending:
            return
        done = records.complete_rows(depth_of)
        self._send(done[self._sent :])
        self._sent = len(done)

    def close(self, rows: list[dict]) -> None:
        """The rows not sent yet (a last step with no update), the verdicts, and the sink's close."""
        self._send(rows[self._sent :])
        self.sink.write_verdicts(check_rows(rows))
        self.sink.close()

    def _send(self, rows: list[dict]) -> None:
        for step, group in itertools.groupby(rows, key=lambda row: row["step"]):
            self.sink.write_step(step, list(group))


def open_sink(log_to: str | Sink) -> Sink:
    """The sink ``log_to`` names (``"tensorboard:DIR"``, ``"wandb[:PROJECT]"``) or ``log_to`` itself."""
    if all(hasattr(log_to, method) for method in ("write_step", "write_verdicts", "close")):
        return log_to
    kind, where = check_spec(log_to)
    # each sink imports its optional extra, so it is imported only when asked for
    if kind == "tensorboard":
        from depthlab.diagnose.sink_tensorboard import TensorBoardSink

        return TensorBoardSink(where)
    from depthlab.diagnose.sink_wandb import WandbSink

    return WandbSink(project=where or "depthlab")
