"""Normalization study: BatchNorm stabilizes and speeds up training, allowing much higher learning rates
(Ioffe & Szegedy 2015, arXiv 1502.03167); LayerNorm for comparison in the full size.

Two regimes, each with and without BatchNorm over a half-decade learning-rate grid, SGD with momentum at a
constant rate (the claim is about rates), for a fixed budget: the sigmoid net without BN sits on long flat
stretches before it escapes them, and a plateau rule would stop it there (measured: at lr 0.1, 32% training
accuracy when stopped after 800 steps):

- **judged**, the regime the claim is about: a net that is hard to train without normalization, Ioffe &
  Szegedy's own MNIST experiment (3 hidden layers of 100 sigmoid units, PyTorch's default init);
- **context**, a well-conditioned net (12 ReLU layers of 32, He init): BN's speed-up is not expected there,
  and the report shows what is measured beside the judged regime.

A run *trains* when it ends without diverging at a training accuracy of at least TRAINS (an absolute bar,
the same for every variant). Two comparisons, paired by seed: the highest learning rate at which a seed
trains (in decades), and the steps to reach a stated training loss, each variant at its **fastest** rate:
the minimum over the grid (a diverged run never reaches it; one that never does counts at the budget, which
is conservative for the variant that got there). Diverged runs are marked on the plots, never averaged in.
"""

from __future__ import annotations

import math
import statistics

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    budget_of,
    data_spec,
    decide,
    finished,
    mean,
    metric,
    tags_of,
    undecided,
    where,
)
from depthlab.study.presets.plotting import accuracy_lines, curves, lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {
        "lrs": [0.01, 0.03, 0.1, 0.3, 1.0],
        "seeds": [0, 1, 2, 3, 4],  # BN's rate clause needs 4-5 seeds (3 gave [-1.0, +4.7] decades)
        "context_lrs": [],  # the context regime is shown in the full size only
        "context_seeds": [],
    },
    "full": {
        "lrs": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        "seeds": list(range(10)),
        "context_lrs": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        "context_seeds": list(range(5)),
    },
}
STEPS = {"quick": 1500, "full": 8000}
JUDGED, CONTEXT = "sigmoid 3x100, default init", "ReLU 12x32, He init"
REGIMES = {
    JUDGED: {"depth": 4, "width": 100, "activation": "sigmoid", "init": "default"},
    CONTEXT: {"depth": 12, "width": 32, "activation": "relu", "init": "he_normal"},
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
    f"log2 of steps to training loss {TARGET_LOSS}, none over batch, each at its fastest lr",
    1,
    0.25,
    scale=1.0,
    unit=" doublings",
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    norms = NORMS if size == "quick" else {**NORMS, **FULL_EXTRA}
    specs = []
    for regime, model in REGIMES.items():
        base = {
            "study": "normalization",
            "model": {"name": "mlp", **model},
            "data": data_spec(data),
            "train": {
                "steps": STEPS[size],
                "optimizer": "sgd",
                "momentum": 0.9,
                "batch_size": 128,
            },
            "tags": {"regime": regime},
        }
        lrs, seeds = (s["lrs"], s["seeds"]) if regime == JUDGED else (s["context_lrs"], s["context_seeds"])
        specs += expand(base, {"norm": norms, "train.lr": lrs, "seed": seeds})
    return specs


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
    """The first recorded step at which the training loss (the mean of a loss read, weighted by batch size)
    is at or below ``target``; inf when the run never got there (its step count says nothing)."""
    history = row.get("history") or {}
    for step, loss in history.get("curve") or []:
        if loss is not None and loss <= target:
            return float(step)
    return math.inf


def fastest(rows: list[Row], norm: str, budget: float) -> dict:
    """Per seed: the fewest steps to ``TARGET_LOSS`` over the rate grid (a diverged run never gets there;
    never getting there counts as the budget)."""
    out = {}
    for seed in tags_of(where(rows, norm=norm), "seed"):
        runs = finished(where(rows, norm=norm, seed=seed))
        times = [steps_to(r) if r["status"] == "ok" else math.inf for r in runs]
        out[seed] = min([budget, *times])
    return out


def fastest_lr(rows: list[Row], norm: str) -> float | None:
    """The rate with the fewest median steps to ``TARGET_LOSS``, or, when no rate got there, the one with the
    lowest mean final training loss (for the learning-curve panel)."""
    cells = {
        lr: [steps_to(r) for r in where(rows, norm=norm, lr=lr) if r["status"] == "ok"]
        for lr in tags_of(rows, "lr")
    }
    medians = {lr: statistics.median(t) for lr, t in cells.items() if t}
    reached = {lr: m for lr, m in medians.items() if m < math.inf}
    if reached:
        return min(reached, key=reached.get)
    final = {lr: mean(metric(r, "train_loss") for r in where(rows, norm=norm, lr=lr)) for lr in cells}
    final = {lr: v for lr, v in final.items() if not math.isnan(v)}  # NaN: every run at that rate diverged
    return min(final, key=final.get) if final else None


def regime_clauses(rows: list[Row]) -> tuple[list[stats.Clause], dict]:
    """The two clauses and the numbers behind them, on one regime's rows."""
    top = {n: highest_trained_lr(rows, n) for n in ("none", "batch")}
    budget = budget_of(rows)
    steps = {n: fastest(rows, n, budget) for n in top}
    ratio = {
        s: math.log2(steps["none"][s] / steps["batch"][s])
        for s in steps["none"].keys() & steps["batch"].keys()
    }
    clauses = [HIGHER_LR.judge_paired(top["batch"], top["none"]), FASTER.judge(ratio.values())]
    diverged = {n: sum(r["status"] == "diverged" for r in where(rows, norm=n)) for n in top}
    return clauses, {"highest_lr_log10": top, "fastest_steps": steps, "diverged": diverged}


def describe(numbers: dict) -> str:
    """The regime's numbers in words."""
    top, steps, diverged = numbers["highest_lr_log10"], numbers["fastest_steps"], numbers["diverged"]
    return "; ".join(
        f"{n}: trains up to lr {10 ** mean(top[n].values()):.2g} (geometric mean over seeds), median "
        f"fastest steps to loss {TARGET_LOSS} {_median(steps[n].values())}, {diverged[n]} runs diverged"
        for n in top
    )


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    judged, numbers = regime_clauses(where(rows, regime=JUDGED))
    detail = f"In the judged regime ({JUDGED}): {describe(numbers)}."
    context = where(rows, regime=CONTEXT)
    if finished(context):
        beside, context_numbers = regime_clauses(context)
        numbers["context"] = {**context_numbers, "clauses": [c.to_dict() for c in beside]}
        detail += (
            f" Context, a well-conditioned net ({CONTEXT}; not judged): "
            f"{'; '.join(c.sentence() for c in beside)}."
        )
    return decide(judged, where(rows, regime=JUDGED), detail, numbers=numbers)


def _median(values) -> str:
    values = sorted(values)
    return f"{values[len(values) // 2]:.0f}" if values else "n/a"


def plot(rows: list[Row], figure) -> None:
    trained, *speeds, right = figure.subplots(1, 4)
    judged = where(rows, regime=JUDGED)
    accuracy_lines(
        trained,
        judged,
        "lr",
        "train_acc",
        by="norm",
        xlabel="learning rate (SGD, momentum 0.9)",
        ylabel="final training accuracy (%)",
    )
    trained.axhline(100 * TRAINS, color="grey", ls="--", lw=0.8)
    trained.set(xscale="log")
    trained.set_title("judged: trains above the bar (x: diverged)", fontsize=9)
    for ax, regime in zip(speeds, (JUDGED, CONTEXT), strict=True):
        lines(
            ax,
            where(rows, regime=regime),
            "lr",
            steps_to,
            by="norm",
            xlabel="learning rate",
            ylabel=f"steps to training loss {TARGET_LOSS}",
            bounds=(0, math.inf),
        )
        ax.set(xscale="log")
        ax.set_title(f"{'judged' if regime == JUDGED else 'context'} ({regime}): speed", fontsize=9)
    for norm in tags_of(judged, "norm"):
        lr = fastest_lr(judged, norm)
        if lr is not None:
            curves(
                right,
                where(judged, norm=norm, lr=lr),
                "norm",
                title="judged: curves at the fastest lr",
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
