"""What a study preset is: a claim, a declarative grid per size, and a verdict and plots computed from
results.

A preset's ``grid(size, data)`` returns plain run specs (see ``study.spec``); ``analyze(table)`` turns the
stored numbers into a :class:`Finding` (the verdict sentence is built from measured values, never canned);
``plot(table, figure)`` draws the evidence. ``table`` rows are the grid tags plus the stored status, metrics
and diagnostics.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

SIZES = ("quick", "full")
Row = dict[str, Any]


@dataclass
class Finding:
    """A study's computed outcome: did the claim hold here, the sentence saying so, and key numbers."""

    held: bool | None  # None: not enough finished runs to tell
    verdict: str
    numbers: dict[str, Any] = field(default_factory=dict)
    recommended_depth: int | None = None


@dataclass(frozen=True)
class Study:
    """A preset: ``grid(size, data) -> specs``, ``analyze(rows) -> Finding``, ``plot(rows, figure)``."""

    name: str
    claim: str
    anchor: str
    grid: Callable[[str, str], list[dict[str, Any]]]
    analyze: Callable[[list[Row]], Finding]
    plot: Callable[[list[Row], Any], None]
    default_data: str = "mnist1d"
    data_kinds: tuple[str, ...] = ("any",)  # "image": needs (C, H, W) inputs; "scalar": its own 1-D task


def metric(row: Row, name: str) -> float:
    """A stored metric as a float; NaN when missing, failed or non-finite (diverged runs keep what they
    have)."""
    value = row.get(name)
    if value is None:
        value = (row.get("metrics") or {}).get(name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def finished(rows: Iterable[Row]) -> list[Row]:
    """Rows of runs that produced a result (ok or diverged)."""
    return [r for r in rows if r.get("status") in ("ok", "diverged")]


def where(rows: Iterable[Row], **tags: Any) -> list[Row]:
    """Rows whose tags equal every given value."""
    return [r for r in rows if all(r.get(k) == v for k, v in tags.items())]


def mean(values: Iterable[float]) -> float:
    """Mean of the finite values; NaN when there are none."""
    good = [v for v in values if not math.isnan(v)]
    return sum(good) / len(good) if good else math.nan


def mean_by(rows: Iterable[Row], key: str, value: str | Callable[[Row], float]) -> dict[Any, float]:
    """Mean over seeds of ``value`` (a metric name or a function of a row) for each value of tag ``key``,
    sorted."""
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in finished(rows):
        groups[row[key]].append(metric(row, value) if isinstance(value, str) else value(row))
    return {k: mean(groups[k]) for k in sorted(groups, key=_sort_key)}


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def pct(value: float) -> str:
    """0.934 -> '93.4%' (NaN -> 'n/a')."""
    return "n/a" if math.isnan(value) else f"{100 * value:.1f}%"


def sci(value: float) -> str:
    """A positive number in short scientific form, e.g. '3.2e-05'."""
    return "n/a" if math.isnan(value) else f"{value:.1e}"


def tags_of(rows: Iterable[Row], key: str) -> list[Any]:
    """Distinct values of tag ``key`` in sorted order."""
    return sorted({r[key] for r in rows if key in r}, key=_sort_key)


def diverged_points(rows: Iterable[Row], x: str) -> list[Any]:
    """x-values of diverged runs (plots mark them, since a divergence is a result)."""
    return [r[x] for r in rows if r.get("status") == "diverged"]


def undecided(rows: list[Row], need: int = 2) -> Finding | None:
    """A Finding saying there is not enough data, when fewer than ``need`` runs finished."""
    done = len(finished(rows))
    if done >= need:
        return None
    return Finding(None, f"only {done} of {len(rows)} runs finished; rerun the same command to complete them")
