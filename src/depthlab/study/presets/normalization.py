"""Normalization study: BatchNorm stabilizes and speeds up training, allowing much higher learning rates
(Ioffe & Szegedy 2015, arXiv 1502.03167); LayerNorm for comparison in the full size.

A deep MLP (He init, so that the net without normalization can train at all) with and without BatchNorm over a
half-decade learning-rate grid, SGD with momentum, to a plateau of the training loss. A run *trains* when it
ends without diverging at a training accuracy of at least TRAINS (an absolute bar, the same for every
variant). Two comparisons, paired by seed: the highest learning rate at which a seed trains (in decades), and
the steps to reach a stated training loss, each variant at its own best learning rate. Diverged runs are
marked on the plots and never averaged in.
"""

from __future__ import annotations

import math

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    data_spec,
    decide,
    finished,
    mean,
    metric,
    per_seed,
    tags_of,
    undecided,
    where,
)
from depthlab.study.presets.plotting import accuracy_lines, curves, lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"lrs": [0.01, 0.03, 0.1, 0.3, 1.0], "seeds": [0, 1, 2, 3, 4], "steps": 1500, "depth": 12},
    "full": {
        "lrs": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        "seeds": list(range(10)),
        "steps": 8000,
        "depth": 16,
    },
}
NORMS = {"none": {"model.norm": "none"}, "batch": {"model.norm": "batch"}}
FULL_EXTRA = {"layer": {"model.norm": "layer"}}
TRAINS = 0.5  # a run trains when it ends, not diverged, at >= 50% training accuracy (chance is 10%)
TARGET_LOSS = 1.0  # "trains faster": steps until the training loss first reaches this
GRID_STEP = 0.5  # decades between learning rates

HIGHER_LR = stats.Comparison(
    "BN trains at higher learning rates",
    "log10 of the highest lr at which the seed trains, batch minus none",
    1,
    GRID_STEP / 2,
    scale=1.0,
    unit=" decades",
)
FASTER = stats.Comparison(
    "BN trains faster",
    f"log2 of steps to training loss {TARGET_LOSS}, none over batch, each at its best lr",
    1,
    0.25,
    scale=1.0,
    unit=" doublings",
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    norms = NORMS if size == "quick" else {**NORMS, **FULL_EXTRA}
    base = {
        "study": "normalization",
        "model": {"name": "mlp", "width": 32, "depth": s["depth"], "init": "he_normal"},
        "data": data_spec(data),
        "train": {
            "steps": s["steps"],
            "optimizer": "sgd",
            "momentum": 0.9,
            "batch_size": 128,
            "plateau_window": 200,
            "plateau_tol": 0.01,
        },
    }
    return expand(base, {"norm": norms, "train.lr": s["lrs"], "seed": s["seeds"]})


def trains(row: Row) -> bool:
    return row["status"] == "ok" and metric(row, "train_acc") >= TRAINS


def highest_trained_lr(rows: list[Row], norm: str) -> dict:
    """Per seed: log10 of the highest lr at which that seed trained (half a grid step below the grid when
    it trained at none)."""
    lrs = tags_of(rows, "lr")
    floor = math.log10(min(lrs)) - GRID_STEP
    out = {}
    for seed in tags_of(where(rows, norm=norm), "seed"):
        good = [r["lr"] for r in finished(where(rows, norm=norm, seed=seed)) if trains(r)]
        out[seed] = math.log10(max(good)) if good else floor
    return out


def steps_to(row: Row, target: float = TARGET_LOSS) -> float:
    """The first recorded step at which the training loss (window mean) is at or below ``target``; inf when
    the run never got there (a stalled run stops early on its flat loss: its step count says nothing)."""
    history = row.get("history") or {}
    for step, loss in history.get("curve") or []:
        if loss is not None and loss <= target:
            return float(step)
    return math.inf


def censored(steps: dict, budget: float) -> dict:
    """Runs that never reached the loss count as reaching it at the step budget: conservative for the
    variant that got there."""
    return {seed: min(value, budget) for seed, value in steps.items()}


def best_lr(rows: list[Row], norm: str) -> float | None:
    """The lr whose seeds all trained with the lowest mean final training loss."""
    cells = {lr: finished(where(rows, norm=norm, lr=lr)) for lr in tags_of(rows, "lr")}
    good = {lr: c for lr, c in cells.items() if c and all(trains(r) for r in c)}
    if not good:
        return None
    return min(good, key=lambda lr: mean(metric(r, "train_loss") for r in good[lr]))


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    top = {n: highest_trained_lr(rows, n) for n in ("none", "batch")}
    higher = HIGHER_LR.judge_paired(top["batch"], top["none"])
    best = {n: best_lr(rows, n) for n in ("none", "batch")}
    if None in best.values():
        faster = FASTER.judge([])
        steps = {}
    else:
        budget = max(float((r.get("history") or {}).get("steps") or 0) for r in rows)
        steps = {n: censored(per_seed(rows, steps_to, norm=n, lr=best[n]), budget) for n in best}
        ratio = {
            s: math.log2(steps["none"][s] / steps["batch"][s])
            for s in steps["none"].keys() & steps["batch"].keys()
        }
        faster = FASTER.judge(ratio.values())
    diverged = {n: sum(r["status"] == "diverged" for r in where(rows, norm=n)) for n in top}
    detail = "; ".join(
        f"{n}: trains up to lr {10 ** mean(top[n].values()):.2g} (geometric mean over seeds), best lr "
        f"{best[n]}, median steps to loss {TARGET_LOSS} "
        f"{_median(steps.get(n, {}).values())}, {diverged[n]} runs diverged"
        for n in top
    )
    used = [r for n in best if best[n] is not None for r in where(rows, norm=n, lr=best[n])]
    numbers = {"best_lr": best, "highest_lr_log10": top, "diverged": diverged}
    return decide([higher, faster], used, detail, numbers=numbers)


def _median(values) -> str:
    values = sorted(values)
    return f"{values[len(values) // 2]:.0f}" if values else "n/a"


def plot(rows: list[Row], figure) -> None:
    left, middle, right = figure.subplots(1, 3)
    accuracy_lines(
        left,
        rows,
        "lr",
        "train_acc",
        by="norm",
        xlabel="learning rate (SGD, momentum 0.9)",
        ylabel="final training accuracy (%)",
    )
    left.axhline(100 * TRAINS, color="grey", ls="--", lw=0.8)
    left.set(xscale="log")
    left.set_title("trains (above the dashed bar) vs lr; x = diverged", fontsize=10)
    lines(
        middle,
        rows,
        "lr",
        steps_to,
        by="norm",
        xlabel="learning rate",
        ylabel=f"steps to training loss {TARGET_LOSS}",
        bounds=(0, math.inf),
    )
    middle.set(xscale="log")
    middle.set_title("speed: steps to the stated loss", fontsize=10)
    for norm in tags_of(rows, "norm"):
        lr = best_lr(rows, norm)
        if lr is not None:
            curves(
                right,
                where(rows, norm=norm, lr=lr),
                "norm",
                title="learning curves at each variant's best lr",
            )
    right.axhline(TARGET_LOSS, color="grey", ls="--", lw=0.8)


STUDY = Study(
    name="normalization",
    claim=(
        "Batch normalization stabilizes training: a deep net with BN trains at learning rates where the "
        "same net without normalization diverges or stalls, and trains faster."
    ),
    anchor=(
        "Ioffe & Szegedy 2015 (arXiv 1502.03167): BN reaches Inception's 72.2% top-1 in 14× fewer steps "
        "(BN-x5, lr ×5) and 74.8% with lr ×30; the same lr ×5 without BN diverged; sigmoid Inception "
        "without BN stays at chance."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
