"""The numbers behind each view of the page, computed on the training thread from the model and watch rows.

Everything is rounded to 4 significant digits before it is sent: the page draws pixels, and short numbers
keep serialization (a measured share of each update, see BENCHMARKS.md) small.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from depthlab.diagnose import layer_stats as act_stats
from depthlab.train import evaluate

LAYER_COLUMNS = ("grad_norm", "act_grad_rms", "act_std", "dead_frac", "saturated_frac", "update_ratio")
EVAL_SAMPLES = 1000  # train and test metrics on at most this many points (a fixed slice: same every time)
GRID = 48  # decision-boundary raster, GRID x GRID over [-1.25, 1.25]^2
UNIT_GRID = 20  # per-unit heatmaps (small nets only)
SMALL_NET = {"depth": 8, "width": 8}  # TF Playground's per-unit pictures, for nets this size or smaller
EXTENT = 1.25


def short(value: float) -> float | None:
    """4 significant digits; None for NaN/inf (JSON has neither)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")


def layer_view(rows: list[dict], step: int) -> dict[str, Any]:
    """One recorded step's watch rows as columns (names, depth and each LAYER_COLUMNS that the rows have);
    ``step`` counts the steps done, this one included."""
    ordered = sorted(rows, key=lambda r: (r["depth"], r["layer"]))
    view: dict[str, Any] = {"step": step, "name": [r["name"] for r in ordered]}
    view["depth"] = [r["depth"] for r in ordered]
    for column in LAYER_COLUMNS:
        if ordered and column in ordered[0]:
            view[column] = [short(r[column]) for r in ordered]
    return view


def split_metrics(model: nn.Module, data, prefix: str) -> dict[str, float | None]:
    """Loss (and accuracy) on the first EVAL_SAMPLES points of a split, in eval mode."""
    x, y = getattr(data, f"x_{prefix}")[:EVAL_SAMPLES], getattr(data, f"y_{prefix}")[:EVAL_SAMPLES]
    found = evaluate(model, x, y, data.task)
    return {f"{prefix}_{k}": short(v) for k, v in found.items()}


def metrics_view(model: nn.Module, data, step: int) -> dict[str, Any]:
    """Train and test loss and accuracy at ``step``."""
    return {"step": step, **split_metrics(model, data, "train"), **split_metrics(model, data, "test")}


def grid_points(n: int, device: torch.device) -> torch.Tensor:
    """(n*n, 2) points of a raster over [-EXTENT, EXTENT]^2, row by row from the top (y high) down."""
    axis = torch.linspace(-EXTENT, EXTENT, n, device=device)
    ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], 1)


def is_small(model: nn.Module) -> bool:
    c = getattr(model, "config", None)
    return c is not None and c.depth <= SMALL_NET["depth"] and c.width <= SMALL_NET["width"]


@torch.no_grad()
def boundary_view(model: nn.Module, data, step: int) -> dict[str, Any] | None:
    """For 2-D data: P(class 1) over the raster, the points, and per-unit outputs for small nets."""
    if data.input_shape != (2,) or data.num_classes != 2:
        return None
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        probs = torch.softmax(model(grid_points(GRID, device)).float(), 1)[:, 1]
        units = unit_maps(model, device) if is_small(model) else []
    finally:
        model.train(was_training)
    return {
        "step": step,
        "n": GRID,
        "extent": EXTENT,
        "p": [round(v, 3) for v in probs.tolist()],
        "units": units,
    }


def unit_maps(model: nn.Module, device: torch.device) -> list[list[list[float]]]:
    """Each hidden unit's activation over a UNIT_GRID raster: one list of units per activation layer."""
    outputs: list[torch.Tensor] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, out: outputs.append(out))
        for m in model.modules()
        if act_stats.is_activation(m)
    ]
    try:
        model(grid_points(UNIT_GRID, device))
    finally:
        for handle in handles:
            handle.remove()
    layers = []
    for out in outputs:
        scale = out.abs().amax().clamp_min(1e-12)
        layers.append([[round(v, 2) for v in (col / scale).tolist()] for col in out.T])
    return layers


def points_view(data) -> dict[str, Any] | None:
    """The 2-D training and test points (sent once per job)."""
    if data.input_shape != (2,):
        return None
    return {
        split: _points(getattr(data, f"x_{split}"), getattr(data, f"y_{split}"))
        for split in ("train", "test")
    }


def _points(x: torch.Tensor, y: torch.Tensor) -> list[list]:
    return [[short(a), short(b), int(c)] for (a, b), c in zip(x.tolist(), y.tolist(), strict=True)]
