"""Transformer-shape study: at a fixed parameter count the shape matters little (Kaplan et al. 2020, arXiv
2001.08361), and scaling each residual branch by 1/sqrt(2 depth) keeps the best learning rate where it is as
depth grows (depth-muP: Yang et al. 2023, arXiv 2310.02244; Bordelon et al. 2023, arXiv 2309.16620).

Two parts, each paired by seed:

- **shape**: pre-LN language models on the ``chars`` corpus (its first ``CHARACTERS`` characters, 32-character
  contexts) with the same non-embedding parameter count, 12 depth width^2: ``depth x width`` 2 x 64 (shallow
  and wide) and 8 x 32 (deep and thin; the full size adds 32 x 16), trained for an equal cosine budget.
  Kaplan et al. find the loss within a few percent over a wide range of shapes at a fixed count (their
  Fig. 5); MobileLLM (Liu et al. 2024, arXiv 2402.14905) finds small models gain from being deep and thin.
  The judged statistic is the deep-thin net's validation bits per character relative to the shallow-wide
  net's, in percent; the claim is Kaplan's, that it lies within ``SHAPE_MARGIN`` percent either way (two
  one-sided clauses: the 95% interval inside the band); the sign says which way MobileLLM's claim leans.
- **rate**: pre-LN encoders on associative recall (``recall``) at a shallow and a deep depth, each trained at
  every rate of a grid, with ``branch_scale`` 1 (the standard form) and ``depth`` (1/sqrt(2 depth)). The best
  rate of a seed is the grid's lowest-loss rate refined by a parabola through it and its neighbours (in
  log10 rate); its shift is log10(best deep / best shallow). Clauses: in the standard form the best rate
  falls with depth (shift below -``SHIFT_MIN``); with the branch scale it moves less (the scaled shift minus
  the standard one above ``SHIFT_MIN``).

What the quick budget can and cannot say: it fits two minutes on a 2-core CPU (200 steps of 16 contexts,
about one pass over the characters, and a rate grid at depths 2 and 6 for 100 steps, chosen on a pilot with
seeds 100-104 and then run once on these seeds). Kaplan et al. compare models trained far longer, and a deeper
net starts slower per step, so a short budget favours the shallow-wide net; the full size trains 15x more
steps on twice the batch, and its rate grid reaches depth 32. For Adam, Yang et al.'s depth-muP also scales
the blocks' learning rate by 1/sqrt(depth); the dial here is the branch scale alone, the form in which the
claim is usually stated and used.

This preset is in the full suite; the quick suite runs it by name (``depthlab study transformer_shape``).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    decide,
    finished,
    mean,
    metric,
    per_seed,
    undecided,
    where,
)
from depthlab.study.presets.plotting import PALETTE, bars, label_axes
from depthlab.study.spec import expand

SIZES = {
    "quick": {
        "shapes": {"2 x 64": (2, 64), "8 x 32": (8, 32)},
        "shape_steps": 200,
        "shape_batch": 16,
        "depths": [2, 6],
        "lrs": [3e-4, 1e-3, 3e-3, 1e-2],
        "rate_steps": 100,
        "rate_batch": 32,
        "seeds": [0, 1, 2, 3, 4],
    },
    "full": {
        "shapes": {"2 x 64": (2, 64), "8 x 32": (8, 32), "32 x 16": (32, 16)},
        "shape_steps": 3000,
        "shape_batch": 32,
        "depths": [2, 8, 32],
        "lrs": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        "rate_steps": 600,
        "rate_batch": 64,
        "seeds": list(range(10)),
    },
}
DATA, RATE_DATA = "chars", "recall"
CHARACTERS = 100_000
SHALLOW_WIDE, DEEP_THIN = "2 x 64", "8 x 32"
SCALES = {"standard": "1", "1/sqrt(2 depth)": "depth"}
SHAPE_MARGIN = 5.0  # percent of the shallow-wide net's bits per character
SHIFT_MIN = 0.1  # decades of learning rate

NOT_WORSE = stats.Comparison(
    "the deep-thin net is not worse by more than 5%",
    f"{SHAPE_MARGIN:g}% minus (validation bits/char, deep-thin over shallow-wide, in % above 100)",
    1,
    0.0,
    scale=1.0,
    unit=" %",
)
NOT_BETTER = stats.Comparison(
    "nor better by more than 5%",
    f"{SHAPE_MARGIN:g}% plus (validation bits/char, deep-thin over shallow-wide, in % above 100)",
    1,
    0.0,
    scale=1.0,
    unit=" %",
)
RATE_FALLS = stats.Comparison(
    "the best rate falls with depth in the standard form",
    "log10(best rate deep / best rate shallow), branch scale 1",
    -1,
    SHIFT_MIN,
    scale=1.0,
    unit=" decades",
)
SCALE_HOLDS = stats.Comparison(
    "the branch scale keeps the best rate closer",
    "shift with 1/sqrt(2 depth) minus shift with 1",
    1,
    SHIFT_MIN,
    scale=1.0,
    unit=" decades",
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    shape_base = {
        "study": "transformer_shape",
        "model": {"name": "transformer", "heads": 4},
        "data": {"name": data, "characters": CHARACTERS, "block": 32},
        "train": {
            "steps": s["shape_steps"],
            "lr": 1e-3,
            "batch_size": s["shape_batch"],
            "schedule": "cosine",
        },
        "tags": {"part": "shape"},
    }
    shapes = {k: {"model.depth": d, "model.width": w} for k, (d, w) in s["shapes"].items()}
    rate_base = {
        "study": "transformer_shape",
        "model": {"name": "transformer", "width": 32, "heads": 4},
        "data": {"name": RATE_DATA},
        "train": {"steps": s["rate_steps"], "batch_size": s["rate_batch"], "schedule": "cosine"},
        "tags": {"part": "rate"},
    }
    scales = {k: {"model.branch_scale": v} for k, v in SCALES.items()}
    return expand(shape_base, {"shape": shapes, "seed": s["seeds"]}) + expand(
        rate_base,
        {"scale": scales, "model.depth": s["depths"], "train.lr": s["lrs"], "seed": s["seeds"]},
    )


def relative_bpc(rows: list[Row]) -> dict:
    """{seed: 100 x (deep-thin bits/char / shallow-wide's - 1)}."""
    shape = where(rows, part="shape")
    wide = per_seed(shape, lambda r: metric(r, "val_bpc"), shape=SHALLOW_WIDE)
    thin = per_seed(shape, lambda r: metric(r, "val_bpc"), shape=DEEP_THIN)
    return {s: 100 * (thin[s] / wide[s] - 1) for s in wide.keys() & thin.keys()}


def best_log_rate(rates: list[float], losses: list[float]) -> float:
    """log10 of the best rate: the lowest finite loss on the grid, refined by the vertex of the parabola
    through it and its two neighbours (in log10 rate) when it is inside the grid and the parabola opens up."""
    order = np.argsort(rates)
    x, y = np.log10(np.asarray(rates)[order]), np.asarray(losses, dtype=float)[order]
    y = np.where(np.isfinite(y), y, np.inf)  # a diverged rate is never the best
    i = int(np.argmin(y))
    if 0 < i < len(x) - 1 and np.isfinite(y[i - 1 : i + 2]).all():
        a, b, _ = np.polyfit(x[i - 1 : i + 2], y[i - 1 : i + 2], 2)
        if a > 0:
            return float(np.clip(-b / (2 * a), x[i - 1], x[i + 1]))
    return float(x[i])


def best_rates(rows: list[Row], scale: str) -> dict:
    """{(seed, depth): log10 best rate} for one branch scale."""
    table = defaultdict(dict)
    for r in finished(where(rows, part="rate", scale=scale)):
        loss = math.inf if r["status"] == "diverged" else metric(r, "val_loss")
        table[(r["seed"], r["depth"])][r["lr"]] = loss
    return {key: best_log_rate(list(t), list(t.values())) for key, t in table.items() if len(t) >= 2}


def shifts(rows: list[Row], scale: str) -> dict:
    """{seed: log10(best rate at the deepest depth / at the shallowest)}."""
    best = best_rates(rows, scale)
    depths = sorted({d for _, d in best})
    if len(depths) < 2:
        return {}
    low, high = depths[0], depths[-1]
    seeds = {s for s, _ in best}
    return {s: best[(s, high)] - best[(s, low)] for s in seeds if (s, low) in best and (s, high) in best}


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 2)) is not None:
        return pending
    rel = relative_bpc(rows)
    moved = {scale: shifts(rows, scale) for scale in SCALES}
    standard, scaled = (moved[k] for k in SCALES)
    judged = [
        NOT_WORSE.judge(SHAPE_MARGIN - v for v in rel.values()),
        NOT_BETTER.judge(SHAPE_MARGIN + v for v in rel.values()),
        RATE_FALLS.judge(standard.values()),
        SCALE_HOLDS.judge_paired(scaled, standard),
    ]
    shape = where(rows, part="shape")
    bpc = {k: mean(metric(r, "val_bpc") for r in finished(where(shape, shape=k))) for k in tags(shape)}
    detail = (
        "validation bits/char at matched non-embedding parameters: "
        + ", ".join(f"{k} {v:.3f}" for k, v in bpc.items())
        + f" (deep-thin {mean(rel.values()):+.1f}% relative; MobileLLM expects it lower); "
        + "the best rate moves "
        + ", ".join(f"{mean(m.values()):+.2f} decades with branch scale {k}" for k, m in moved.items())
        + " from the shallowest to the deepest"
    )
    return decide(judged, rows, detail)


def tags(rows: list[Row], key: str = "shape") -> list:
    return list(dict.fromkeys(r[key] for r in rows))


def plot(rows: list[Row], figure) -> None:
    ax_shape, ax_rate = figure.subplots(1, 2)
    shape = where(rows, part="shape")
    cells = {k: [metric(r, "val_bpc") for r in finished(where(shape, shape=k))] for k in tags(shape)}
    bars(ax_shape, cells, ylabel="validation bits/char", title="depth x width, same non-embedding parameters")
    rate = where(rows, part="rate")
    for scale in SCALES:
        for depth in sorted({r["depth"] for r in rate}):
            cell = where(rate, scale=scale, depth=depth)
            lrs = sorted({r["lr"] for r in cell})
            centre = [mean(metric(r, "val_loss") for r in finished(where(cell, lr=lr))) for lr in lrs]
            style = "-" if scale == "standard" else "--"
            ax_rate.plot(
                lrs, centre, style, marker="o", color=PALETTE(str(depth)), label=f"depth {depth}, {scale}"
            )
    ax_rate.set_xscale("log")
    label_axes(ax_rate, "learning rate", "validation loss (nats)", "best rate against depth")
    ax_rate.legend(fontsize=6)


STUDY = Study(
    name="transformer_shape",
    claim=(
        "At a fixed parameter count a transformer's shape changes its loss little, and scaling each residual "
        "branch by 1/sqrt(2 depth) keeps the best learning rate from moving with depth."
    ),
    anchor=(
        "Kaplan et al. 2020 (arXiv 2001.08361), Fig. 5: loss within a few percent over a wide range of "
        "shapes at fixed non-embedding parameters (MobileLLM, arXiv 2402.14905: small models gain from "
        "depth); "
        "Yang et al. 2023 (arXiv 2310.02244) and Bordelon et al. 2023 (arXiv 2309.16620): 1/sqrt(depth) "
        "branch scaling transfers the best learning rate across depth."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
    default_data=DATA,
    data_kinds=("own",),
)
