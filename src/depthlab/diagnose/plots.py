"""Plots of depth at work, from plain data (watch rows, probe rows): PNG files or a caller's Axes.

Each function takes a list of row dicts (``watch(...).rows``, ``linear_probes(...)``) and either ``path``
(a PNG is written and its path returned) or ``ax`` (drawn into, returned), so reports can compose them.
Figures are built as ``matplotlib.figure.Figure`` objects, never through pyplot, so importing or calling this
module leaves the user's backend (a notebook's, say) as it was.

Unlike the often-copied ``plot_grad_flow`` snippet, the x axis is the layer's index along the longest path
(not the order of ``named_parameters()``, which is definition order), the y axis is the L2 norm of each weight
layer's gradient (not the mean |grad| of every parameter, biases and norm scales mixed in), and it is
logarithmic, so a gradient that shrinks 10x per layer shows as a straight slope instead of a flat zero line.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from depthlab import atomic
from depthlab.errors import DepthlabError
from depthlab.page import figure_img, figure_png


def _axes(ax: Axes | None):
    """The caller's Axes, or one on a new Figure that no backend (and no pyplot state) knows of."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(6.4, 4.0), dpi=120)
    return fig, fig.add_subplot()


def _finish(fig, ax: Axes, path: str | Path | None):
    if path is None:
        return ax
    fig.tight_layout()
    return atomic.write_bytes(path, figure_png(fig))


def _series(rows: list[dict], column: str) -> dict[int, list[tuple[float, float]]]:
    """step -> [(position along the depth, value)] with non-finite and non-positive values dropped."""
    if not rows:
        raise DepthlabError("nothing to plot: the table has no rows")
    steps: dict[int, list[tuple[float, float]]] = {}
    for row in rows:
        value = row.get(column)
        if isinstance(value, (int, float)) and math.isfinite(value):
            position = row.get("depth") or row.get("layer", 0) + 1
            steps.setdefault(row["step"], []).append((position, value))
    return {s: sorted(points) for s, points in sorted(steps.items())}


def layer_lines(
    rows: list[dict],
    column: str,
    path: str | Path | None = None,
    ax: Axes | None = None,
    log: bool = True,
    title: str | None = None,
    ylabel: str | None = None,
):
    """``column`` against the layer's index along the depth, one line per recorded step (light = early)."""
    fig, ax_ = _axes(ax)
    series = _series(rows, column)
    cmap = colormaps["viridis"]
    for i, (step, points) in enumerate(series.items()):
        if log:
            points = [(x, y) for x, y in points if y > 0]
        xs, ys = zip(*points, strict=True) if points else ((), ())
        ax_.plot(
            xs, ys, marker="o", markersize=3, color=cmap(i / max(1, len(series) - 1)), label=f"step {step}"
        )
    if log:
        ax_.set_yscale("log")
    ax_.set_xlabel("layer (index along the longest path)")
    ax_.set_ylabel(ylabel or column)
    ax_.set_title(title or f"{column} by layer")
    if 0 < len(series) <= 8:
        ax_.legend(fontsize="small")
    elif series:  # too many lines for a legend: a colour bar maps colour to step
        steps = list(series)
        mappable = ScalarMappable(Normalize(steps[0], steps[-1]), cmap)
        fig.colorbar(mappable, ax=ax_, label="step")
    return _finish(fig, ax_, path)


def gradient_flow(
    rows: list[dict], path: str | Path | None = None, ax: Axes | None = None, title: str | None = None
):
    """Weight-gradient L2 norm vs layer on a log axis, one line per recorded step."""
    return layer_lines(
        rows,
        "grad_norm",
        path,
        ax,
        log=True,
        title=title or "gradient norm by layer",
        ylabel="||grad W|| (log)",
    )


def gradient_flow_html(rows: list[dict], title: str | None = None) -> str:
    """The gradient-flow plot as an inline ``<img>``, for a notebook's ``_repr_html_``."""
    fig, ax = _axes(None)
    gradient_flow(rows, ax=ax, title=title)
    fig.tight_layout()
    return figure_img(fig)


def activation_std(
    rows: list[dict],
    path: str | Path | None = None,
    ax: Axes | None = None,
    column: str = "act_std",
    title: str | None = None,
):
    """Activation std (``act_std``, or ``out_std`` for the layer response) vs layer, one line per step."""
    return layer_lines(rows, column, path, ax, log=True, title=title or f"{column} by layer", ylabel=column)


def heatmap(
    rows: list[dict],
    column: str = "grad_norm",
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str | None = None,
):
    """A step x layer heat map of ``column`` with a log color scale."""
    fig, ax_ = _axes(ax)
    series = _series(rows, column)
    layers = sorted({x for points in series.values() for x, _ in points})
    grid = [[dict(points).get(x, math.nan) for x in layers] for points in series.values()]
    positive = [v for line in grid for v in line if v > 0]
    norm = LogNorm(min(positive), max(positive)) if positive else None
    image = ax_.imshow(
        grid,
        aspect="auto",
        origin="lower",
        norm=norm,
        cmap="magma",
        extent=(min(layers) - 0.5, max(layers) + 0.5, -0.5, len(series) - 0.5),
    )
    steps = list(series)
    ticks = range(0, len(steps), max(1, len(steps) // 8))
    ax_.set_yticks(list(ticks), [str(steps[i]) for i in ticks])
    ax_.set_xlabel("layer (index along the longest path)")
    ax_.set_ylabel("step")
    ax_.set_title(title or f"{column} (log color)")
    fig.colorbar(image, ax=ax_)
    return _finish(fig, ax_, path)


def probe_accuracy(
    rows: list[dict],
    path: str | Path | None = None,
    ax: Axes | None = None,
    model_acc: float | None = None,
    title: str | None = None,
    label: str = "probe",
):
    """Linear-probe test accuracy vs layer (``linear_probes`` rows); the net's own accuracy as a line."""
    if not rows:
        raise DepthlabError("nothing to plot: no probe rows")
    fig, ax_ = _axes(ax)
    xs = [r["layer"] for r in rows]
    ax_.plot(xs, [r["test_acc"] for r in rows], marker="o", label=label)
    if model_acc is not None:
        ax_.axhline(model_acc, linestyle="--", color="gray", label="network")
    ax_.set_xticks(
        xs, [r.get("name", str(r["layer"])) for r in rows], rotation=45, ha="right", fontsize="small"
    )
    ax_.set_ylim(0, 1)
    ax_.set_xlabel("layer")
    ax_.set_ylabel("test accuracy")
    ax_.set_title(title or "linear probe accuracy by layer")
    ax_.legend(fontsize="small")
    return _finish(fig, ax_, path)
