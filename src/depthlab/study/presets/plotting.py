"""Plot helpers shared by the presets: mean-over-seeds lines with every seed as a dot, divergences as red
x."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from depthlab.study.presets.base import Row, finished, mean_by, metric, tags_of, where


def value_of(row: Row, y: str | Callable[[Row], float]) -> float:
    return metric(row, y) if isinstance(y, str) else y(row)


def lines(
    ax: Any,
    rows: list[Row],
    x: str,
    y: str | Callable[[Row], float],
    by: str | None = None,
    logx: bool = False,
    logy: bool = False,
) -> None:
    """One line per value of tag ``by``: mean over seeds against tag ``x``; seeds as dots; divergences as
    x."""
    groups = tags_of(rows, by) if by else [None]
    for group in groups:
        part = where(rows, **{by: group}) if by else rows
        means = mean_by(part, x, y)
        xs = [k for k, v in means.items() if not math.isnan(v)]
        (line,) = ax.plot(xs, [means[k] for k in xs], marker="o", label=str(group) if by else None)
        dots = [(r[x], value_of(r, y)) for r in finished(part) if r.get("status") == "ok"]
        ax.scatter([d[0] for d in dots], [d[1] for d in dots], s=10, alpha=0.4, color=line.get_color())
        bad = [r[x] for r in part if r.get("status") == "diverged"]
        if bad:
            ax.scatter(
                bad,
                [_floor(ax, logy)] * len(bad),
                marker="x",
                color="red",
                s=40,
                label=f"{group} diverged" if by else "diverged",
            )
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y if isinstance(y, str) else "")
    ax.grid(alpha=0.3)
    if by:
        ax.legend(fontsize=8)


def _floor(ax: Any, logy: bool) -> float:
    low = ax.get_ylim()[0]
    return max(low, 1e-12) if logy else low
