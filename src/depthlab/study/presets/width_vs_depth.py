"""Width vs depth study: at a fixed parameter budget, how should a net be shaped? MLPs whose width is solved
so every depth has (about) the same number of parameters; the evidence is accuracy against depth (aspect
ratio)."""

from __future__ import annotations

import math

from depthlab.study.presets.base import Finding, Row, Study, mean_by, pct, undecided
from depthlab.study.presets.plotting import lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"budget": 20_000, "depths": [2, 3, 5, 9, 17], "seeds": [0, 1], "steps": 400},
    "full": {"budget": 100_000, "depths": [2, 3, 4, 6, 9, 13, 17, 25, 33], "seeds": [0, 1, 2], "steps": 4000},
}
INPUTS, CLASSES = 40, 10  # the budget's widths are solved for MNIST-1D's shape; other data shift it a little


def mlp_params(depth: int, width: int, inputs: int = INPUTS, classes: int = CLASSES) -> int:
    """Parameters of a depth-``depth`` MLP with BatchNorm: stem, depth - 2 hidden blocks, head."""
    if depth == 1:
        return inputs * classes + classes
    hidden = (depth - 2) * (width * width + 3 * width)
    return inputs * width + 3 * width + hidden + width * classes + classes


def width_for(budget: int, depth: int) -> int:
    """The width whose depth-``depth`` MLP has the parameter count closest to ``budget``."""
    return min(range(1, 4096), key=lambda w: abs(mlp_params(depth, w) - budget))


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    shapes = {d: {"model.depth": d, "model.width": width_for(s["budget"], d)} for d in s["depths"]}
    base = {
        "study": "width_vs_depth",
        "model": {"name": "mlp", "norm": "batch", "residual": True},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128},
    }
    return expand(base, {"depth": shapes, "seed": s["seeds"]})


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 3)) is not None:
        return pending
    val, params = mean_by(rows, "depth", "val_acc"), mean_by(rows, "depth", "params")
    best = max(val, key=val.get)
    shallow, deep = min(val), max(val)
    verdict = (
        f"at about {params[best]:,.0f} parameters the best shape is depth {best} ({pct(val[best])} "
        f"validation accuracy); depth {shallow}: {pct(val[shallow])}, depth {deep}: {pct(val[deep])}"
    )
    held = val[best] > val[shallow] + 0.01 and not math.isnan(val[best])
    return Finding(held, verdict, {"val_acc": val, "params": params}, recommended_depth=best)


def plot(rows: list[Row], figure) -> None:
    left, right = figure.subplots(1, 2)
    lines(left, rows, "depth", "val_acc", logx=True)
    left.set_title("validation accuracy vs depth at a fixed budget")
    lines(right, rows, "depth", "params", logx=True)
    right.set(title="parameters (the budget held fixed)", ylim=(0, None))


STUDY = Study(
    name="width_vs_depth",
    claim=(
        "At a fixed parameter budget, trading width for depth helps up to a point: some depth beats the "
        "widest shallow net."
    ),
    anchor=(
        "MNIST-1D (Greydanus 2020): the 2-hidden-layer residual MLP (15,210 params) gets 68%, the 4-layer "
        "CNN (5,210 params) 94%: shape and prior matter more than size. Montúfar et al. 2014: deep nets "
        "have exponentially more linear regions per parameter."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
