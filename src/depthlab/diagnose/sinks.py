"""Where ``watch(model, log_to=...)`` writes what it records: TensorBoard or Weights & Biases.

Both get a few depth-ordered charts, the layer index (input to output) on the x axis and one line per
recorded step, rather than one histogram per parameter tensor: the gradient that reaches each layer
(``act_grad_rms``, the doctor's vanishing/exploding measure), the weight-gradient norm (``grad_norm``) and the
update ratio (``update_ratio``); then the doctor's verdicts on the whole table when the watch stops.

``log_to`` is a sink object, ``"tensorboard:DIR"`` (``torch.utils.tensorboard``, extra ``tensorboard``) or
``"wandb"`` / ``"wandb:PROJECT"`` (the active W&B run if there is one, else a new run; extra ``wandb``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from depthlab.diagnose.verdict import Verdict, problems_first
from depthlab.errors import DepthlabError, unknown

CHARTED = ("act_grad_rms", "grad_norm", "update_ratio")
KINDS = ("tensorboard", "wandb")
LAYER_COLUMNS = ("layer", "depth", "name", "kind")


class Sink(Protocol):
    """What a watch writes to: each recorded step's rows once its update ratio is known, then the verdicts."""

    def write_step(self, step: int, rows: Sequence[dict]) -> None: ...

    def write_verdicts(self, verdicts: Sequence[Verdict]) -> None: ...

    def close(self) -> None: ...


def check_spec(log_to: str) -> tuple[str, str]:
    """``(kind, where)`` of a sink named ``"tensorboard:DIR"`` or ``"wandb[:PROJECT]"``; bad names raise."""
    if not isinstance(log_to, str):
        raise DepthlabError(f"log_to={log_to!r}: expected 'tensorboard:DIR', 'wandb[:PROJECT]' or a sink")
    kind, _, where = log_to.partition(":")
    if kind not in KINDS:
        raise unknown("log_to sink", kind, KINDS)
    if kind == "tensorboard" and not where:
        raise DepthlabError(f"log_to={log_to!r}: name the log folder, e.g. 'tensorboard:runs/mlp'")
    return kind, where


def by_layer(rows: Sequence[dict], column: str) -> list[float]:
    """``column``'s values in layer order (the rows of one recorded step)."""
    return [row[column] for row in sorted(rows, key=lambda row: row["layer"])]


def verdict_cells(verdicts: Sequence[Verdict]) -> list[list[str]]:
    """One row of VERDICT_COLUMNS per verdict, problems first."""
    return [v.cells() for v in problems_first(verdicts)]
