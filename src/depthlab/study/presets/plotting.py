"""Plot helpers shared by the presets, so every panel of a report reads the same way (docs/statistics.md §7):
the mean over seeds with its 95% t-interval as error bars, every seed as a faint point, diverged runs as an
x at the bottom of the panel (a divergence is a result, never averaged in), labelled axes, and one colour per
variant across every panel of the report (:data:`PALETTE`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

from depthlab import stats
from depthlab.study.presets.base import Row, Value, finished, sort_key, tags_of, value_of, where

# matplotlib's tab10, then Dark2, then light Paired colours, spelled out so the report does not depend on the
# user's rcParams: 24 distinct colours, enough for every variant of the quick suite to keep its own.
COLOURS = (
    *("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"),
    *("#17becf", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"),
    *("#000000", "#a6cee3", "#b2df8a", "#fb9a99", "#cab2d6", "#fdbf6f"),
)
SINGLE = "#333333"  # a panel with one series (no variants) does not take a variant's colour


class Palette:
    """Label -> colour, the first time a label is drawn; the report resets it once, so a variant keeps its
    colour in every panel of every study."""

    def __init__(self) -> None:
        self.assigned: dict[str, str] = {}

    def __call__(self, label: Any) -> str:
        key = str(label)
        if key not in self.assigned:
            self.assigned[key] = COLOURS[len(self.assigned) % len(COLOURS)]
        return self.assigned[key]

    def reset(self) -> None:
        self.assigned.clear()


PALETTE = Palette()


def cell_interval(values: Iterable[float], bounds: tuple[float, float] | None = None) -> stats.Interval:
    """Mean of one cell's per-seed values with its 95% t-interval (NaN bounds with one seed), cut to
    ``bounds`` where the quantity has them (an accuracy's interval stays within [0, 100])."""
    iv = stats.paired_t(values)
    if bounds is None:
        return iv
    return dataclasses.replace(iv, low=max(iv.low, bounds[0]), high=min(iv.high, bounds[1]))


def lines(
    ax: Any,
    rows: list[Row],
    x: str,
    y: Value,
    by: str | None = None,
    logx: bool = False,
    logy: bool = False,
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    scale: float = 1.0,
    bounds: tuple[float, float] | None = None,
) -> None:
    """One line per value of tag ``by``: mean over ok seeds with 95% error bars against tag ``x``, seeds as
    faint dots, divergences as x at the bottom; ``scale`` multiplies y (100 for accuracy in points); the
    y-range follows the data (not 0-100 when the effect is 3 points) but stays within ``bounds`` (an
    accuracy's interval may reach past 100% with two seeds; the axis does not)."""
    groups = tags_of(rows, by) if by else [None]
    for group in groups:
        part = where(rows, **{by: group}) if by else rows
        colour = PALETTE(group) if by else SINGLE
        _line(ax, part, x, y, colour, str(group) if by else None, scale, bounds)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if bounds is not None:
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, bounds[0]), min(high, bounds[1]))
    label_axes(ax, xlabel or x, ylabel or (y if isinstance(y, str) else ""))
    if by:
        ax.legend(fontsize=7)


def accuracy_lines(ax: Any, rows: list[Row], x: str, metric: str, **kwargs: Any) -> None:
    """``lines`` for an accuracy metric: plotted in points, the axis kept within 0-100%."""
    lines(ax, rows, x, metric, scale=100, bounds=(0, 100), **kwargs)


def _line(
    ax: Any,
    rows: list[Row],
    x: str,
    y: Value,
    colour: str,
    label: str | None,
    scale: float,
    bounds: tuple[float, float] | None = None,
) -> None:
    ok = [r for r in finished(rows) if r["status"] == "ok"]
    xs = sorted({r[x] for r in ok}, key=sort_key)
    cells = {v: [value_of(r, y) * scale for r in where(ok, **{x: v})] for v in xs}
    ivs = {v: cell_interval(c, bounds) for v, c in cells.items()}
    xs = [v for v in xs if math.isfinite(ivs[v].estimate)]
    means = [ivs[v].estimate for v in xs]
    errs = [
        [_half(ivs[v].estimate - ivs[v].low) for v in xs],
        [_half(ivs[v].high - ivs[v].estimate) for v in xs],
    ]
    ax.errorbar(xs, means, yerr=errs, marker="o", ms=4, capsize=3, color=colour, label=label)
    dots = [(v, s) for v in cells for s in cells[v] if math.isfinite(s)]
    ax.scatter([d[0] for d in dots], [d[1] for d in dots], s=9, alpha=0.3, color=colour, linewidths=0)
    bad = [r[x] for r in rows if r.get("status") == "diverged"]
    if bad:
        low = ax.get_ylim()[0]
        ax.scatter(bad, [low] * len(bad), marker="x", s=36, color=colour, clip_on=False)


def _half(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def label_axes(ax: Any, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Axis labels (and title), and a light grid."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def bars(
    ax: Any,
    cells: dict[str, list[float]],
    *,
    ylabel: str,
    title: str | None = None,
    variants: dict[str, str] | None = None,
    bounds: tuple[float, float] | None = None,
) -> None:
    """One bar per cell: the mean with its 95% error bar (cut to ``bounds``), the per-seed values as faint
    points, and a y-range that starts near the data (not at 0) so a few points' gap is visible; ``variants``
    maps a cell to the variant whose colour it takes (default: the cell's own name)."""
    names = list(cells)
    ivs = [cell_interval(cells[n], bounds) for n in names]
    colours = [PALETTE((variants or {}).get(n, n)) for n in names]
    positions = range(len(names))
    errs = [[_half(iv.estimate - iv.low) for iv in ivs], [_half(iv.high - iv.estimate) for iv in ivs]]
    ax.errorbar(positions, [iv.estimate for iv in ivs], yerr=errs, fmt="none", ecolor="black", capsize=5)
    for pos, name, colour in zip(positions, names, colours, strict=True):
        ax.scatter([pos] * len(cells[name]), cells[name], s=14, alpha=0.35, color=colour, linewidths=0)
        ax.plot([pos - 0.3, pos + 0.3], [ivs[pos].estimate] * 2, color=colour, lw=3)
    ax.set_xticks(list(positions), names, fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    label_axes(ax, "", ylabel, title)


def curves(
    ax: Any, rows: list[Row], by: str, *, logy: bool = True, title: str = "training loss", **tags: Any
) -> None:
    """Learning curves (``history.curve``: (step, mean training loss)) per value of ``by``: every seed faint,
    the mean over seeds bold, on steps the seeds share."""
    for group in tags_of(rows, by):
        colour = PALETTE(group)
        runs = [r for r in finished(where(rows, **{by: group}, **tags)) if _curve(r)]
        for r in runs:
            steps, losses = zip(*_curve(r), strict=True)
            ax.plot(steps, losses, color=colour, alpha=0.25, lw=0.8)
        shared = _mean_curve([dict(_curve(r)) for r in runs])
        if shared:
            ax.plot(*zip(*shared, strict=True), color=colour, lw=1.8, label=str(group))
    if logy:
        ax.set_yscale("log")
    label_axes(ax, "step", "training loss", title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def _curve(row: Row) -> list[tuple[int, float]]:
    points = (row.get("history") or {}).get("curve") or []
    return [(int(s), float(v)) for s, v in points if v is not None and math.isfinite(float(v))]


def _mean_curve(curves: list[dict[int, float]]) -> list[tuple[int, float]]:
    if not curves:
        return []
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    return [(s, sum(c[s] for c in curves) / len(curves)) for s in steps]
