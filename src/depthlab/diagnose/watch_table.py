"""``watch``'s records: per recorded step, each layer's gradient and weight norms, its update ratio, and what
the forward hooks captured; turned into the tidy table (one row per step x layer) when it is read.

The records hold device tensors: reading the table is the one host sync, and rows already read are kept, so a
live table read step after step converts each record once. The update ratio ||W_after - W_before|| /
||W_before|| needs the weights before the optimizer step (``snapshot``) and after it (``fill_update``); until
then the step's rows show it as NaN.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import torch
from torch import nn

from depthlab import atomic
from depthlab.diagnose import layer_stats
from depthlab.diagnose.watch_capture import DEVICE_STATS, HOST_COUNTS

FORWARD_COLUMNS = (
    "out_mean",
    "out_std",
    "act_mean",
    "act_std",
    "dead_frac",
    "saturated_frac",
    "act_grad_rms",
)
STEP_COLUMNS = ("grad_norm", "weight_norm", "update_ratio")
COLUMNS = ("step", "layer", "depth", "name", "kind", *STEP_COLUMNS, *FORWARD_COLUMNS)


class StepRecords:
    """The recorded steps of one watch, and the rows they make."""

    def __init__(self, weights: dict[str, torch.Tensor], layers: dict[str, nn.Module]):
        self.weights, self.layers = weights, layers
        self.records: list[tuple[int, dict[str, list]]] = []
        self._snapshot: tuple[dict, list[torch.Tensor], list[torch.Tensor]] | None = None
        self._rows: list[dict] = []
        self._converted = 0  # records already turned into rows

    @property
    def update_pending(self) -> bool:
        """Whether the last record still waits for its optimizer step (its update ratio)."""
        return self._snapshot is not None

    def record(self, step: int, names: list[str], captured: dict[str, list]) -> None:
        """Record ``step``: gradient and weight norms now, and ``captured`` by the forward hooks."""
        weights = [self.weights[n] for n in names]
        nan = nan_like(weights[0])
        grads = [w.grad.detach() for w in weights if w.grad is not None]
        grad_norms = iter(torch._foreach_norm(grads) if grads else [])
        columns = {
            "grad_norm": [next(grad_norms) if w.grad is not None else nan for w in weights],
            "weight_norm": torch._foreach_norm([w.detach() for w in weights]),
            "update_ratio": [nan] * len(weights),
        }
        columns |= captured
        columns["_names"] = names
        self.records.append((step, columns))
        before = torch._foreach_mul([w.detach() for w in weights], 1.0)  # one copy op for all weights
        self._snapshot = (columns, weights, before)

    def fill_update(self) -> None:
        """The weights have moved: the last record's update ratio."""
        if self._snapshot is None:
            return
        columns, weights, before = self._snapshot
        deltas = torch._foreach_sub([w.detach() for w in weights], before)
        norms = torch._foreach_norm(deltas)
        columns["update_ratio"] = torch._foreach_div(norms, columns["weight_norm"])
        self._snapshot = None

    def forget_update(self) -> None:
        """The weights moved before the record was taken: that step has no update ratio."""
        self._snapshot = None

    def rows(self, depth_of: dict[str, int]) -> list[dict]:
        """One dict per recorded step x layer (a step whose update is still pending shows it as NaN)."""
        pending = self._as_rows(self.records[-1:], depth_of) if self.update_pending else []
        return self.complete_rows(depth_of) + pending

    def complete_rows(self, depth_of: dict[str, int]) -> list[dict]:
        """The rows of every step whose update is known: the records' own list, to read and not to change."""
        ready = len(self.records) - int(self.update_pending)
        if ready > self._converted:
            self._rows += self._as_rows(self.records[self._converted : ready], depth_of)
            self._converted = ready
        return self._rows

    def _as_rows(self, records, depth_of: dict[str, int]) -> list[dict]:
        numeric = STEP_COLUMNS + DEVICE_STATS
        stacked = torch.stack([torch.stack([torch.stack(c[k]).float() for k in numeric]) for _, c in records])
        values = stacked.cpu().tolist()  # the one host sync: (steps, columns, layers)
        rows = []
        for (step, columns), table in zip(records, values, strict=True):
            for i, name in enumerate(columns["_names"]):
                raw = {k: table[j][i] for j, k in enumerate(numeric)} | {
                    k: columns[k][i] for k in HOST_COUNTS
                }
                row = {
                    "step": step,
                    "layer": i,
                    "depth": depth_of.get(name, 0),
                    "name": name,
                    "kind": type(self.layers[name]).__name__,
                }
                rows.append(row | {k: raw[k] for k in STEP_COLUMNS} | _forward_stats(raw))
        return rows


def nan_like(tensor: torch.Tensor) -> torch.Tensor:
    """A NaN scalar on ``tensor``'s device: the value of a statistic nothing measured."""
    return torch.full((), math.nan, device=tensor.device)


def _forward_stats(raw: dict) -> dict:
    """Means, stds and fractions from the sums and counts the hooks recorded."""
    out_mean, out_std = layer_stats.mean_std(raw["out_sum"], raw["out_norm"], raw["out_count"])
    act_mean, act_std = layer_stats.mean_std(raw["act_sum"], raw["act_norm"], raw["act_count"])
    return {
        "out_mean": out_mean,
        "out_std": out_std,
        "act_mean": act_mean,
        "act_std": act_std,
        "dead_frac": 1.0 - raw["alive"] / raw["units"],
        "saturated_frac": raw["saturated"] / raw["values"],
        "act_grad_rms": raw["out_grad_norm"] / math.sqrt(raw["out_count"]),
    }


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """Write watch rows as CSV with the standard columns; returns the path."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    return atomic.write_with(path, write)
