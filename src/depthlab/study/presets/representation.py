"""Representation study: layers build a hierarchy of features, read out by linear probes per layer (Alain &
Bengio 2016, arXiv 1610.01644).

A linear probe (``diagnose.feature_probes``: multinomial logistic regression on standardized frozen features,
the same probe ``depthlab.diagnose`` uses) is fitted on the raw input, the stem and every block's output, for
the trained net and for the same net at init (same seed). The rule, per seed, paired:

- the probes rise with depth: trained probe test accuracy at the last block minus at the stem;
- the rise comes from training: that trained rise minus the same rise at init.
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
    pct,
    per_seed,
    undecided,
    where,
)
from depthlab.study.presets.plotting import PALETTE, cell_interval, label_axes
from depthlab.study.spec import expand

SIZES = {
    "quick": {
        "models": {"mlp": {"model.name": "mlp", "model.depth": 8}},
        "seeds": [0, 1, 2, 3, 4],
        "steps": 1500,
    },
    "full": {
        "models": {
            "mlp": {"model.name": "mlp", "model.depth": 12},
            "cnn1d": {"model.name": "cnn1d", "model.depth": 8},
        },
        "seeds": list(range(10)),
        "steps": 6000,
    },
}
STEM = 1  # probe index of the stem's output (index 0 is the raw input)

RISES = stats.Comparison(
    "probes rise with depth",
    "trained probe test accuracy, last block minus stem",
    direction=1,
    min_effect=0.02,
)
FROM_TRAINING = stats.Comparison(
    "the rise comes from training",
    "(last block minus stem) trained minus the same at init",
    direction=1,
    min_effect=0.02,
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "representation",
        "model": {"width": 64, "norm": "batch"},
        "data": data_spec(data),
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128, "schedule": "cosine"},
        "diagnostics": ["probes"],
    }
    return expand(base, {"model": s["models"], "seed": s["seeds"]})


def probe_curve(row: Row, key: str = "probes") -> list[float]:
    return [float(v) for v in (row.get("diagnostics") or {}).get(key) or []]


def rise(row: Row, key: str = "probes") -> float:
    """Probe accuracy at the last block minus at the stem (NaN without probes)."""
    curve = probe_curve(row, key)
    return curve[-1] - curve[STEM] if len(curve) > STEM + 1 else math.nan


def clauses(rows: list[Row]) -> list[stats.Clause]:
    """The two clauses for the rows of one model."""
    trained = per_seed(rows, rise)
    initial = per_seed(rows, lambda r: rise(r, "probes_init"))
    return [RISES.judge(trained.values()), FROM_TRAINING.judge_paired(trained, initial)]


def _curve_mean(rows: list[Row], key: str) -> list[float]:
    curves = [c for c in (probe_curve(r, key) for r in finished(rows)) if c]
    if not curves:
        return []
    return [cell_interval([c[i] for c in curves]).estimate for i in range(min(map(len, curves)))]


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 2)) is not None:
        return pending
    judged, parts = [], []
    for model in dict.fromkeys(r["model"] for r in rows):
        part = where(rows, model=model)
        mine = clauses(part)
        for clause in mine:  # name the model in each clause when there are several
            judged.append(clause if len({r["model"] for r in rows}) == 1 else _named(clause, model))
        trained, initial = _curve_mean(part, "probes"), _curve_mean(part, "probes_init")
        if len(trained) > STEM and len(initial) > STEM:
            parts.append(
                f"{model}: trained probes {pct(trained[0])} (raw input) → {pct(trained[STEM])} (stem) → "
                f"{pct(trained[-1])} (last block); at init {pct(initial[STEM])} → {pct(initial[-1])}"
            )
    return decide(judged, rows, "; ".join(parts))


def _named(clause: stats.Clause, model: str) -> stats.Clause:
    c = clause.comparison
    renamed = stats.Comparison(f"{model}: {c.name}", c.statistic, c.direction, c.min_effect, c.method)
    return stats.Clause(renamed, clause.interval, clause.outcome, clause.reason)


def plot(rows: list[Row], figure) -> None:
    axes = figure.subplots(1, 2, sharey=True)  # one y-scale: trained and init compare at a glance
    for ax, key, title in ((axes[0], "probes", "trained"), (axes[1], "probes_init", "at init")):
        for model in dict.fromkeys(r["model"] for r in rows):
            curves = [c for c in (probe_curve(r, key) for r in finished(where(rows, model=model))) if c]
            if not curves:
                continue
            width, colour = min(map(len, curves)), PALETTE(model)
            ivs = [cell_interval([100 * c[i] for c in curves]) for i in range(width)]
            errs = [
                [iv.estimate - iv.low if math.isfinite(iv.low) else 0 for iv in ivs],
                [iv.high - iv.estimate if math.isfinite(iv.high) else 0 for iv in ivs],
            ]
            ax.errorbar(
                range(width),
                [iv.estimate for iv in ivs],
                yerr=errs,
                marker="o",
                ms=4,
                capsize=3,
                color=colour,
                label=model,
            )
            for c in curves:
                ax.scatter(
                    range(width), [100 * v for v in c[:width]], s=8, alpha=0.3, color=colour, linewidths=0
                )
        label_axes(
            ax, "layer (0 = raw input, 1 = stem)", "probe test accuracy (%)", f"linear probes ({title})"
        )
        ax.legend(fontsize=7)


STUDY = Study(
    name="representation",
    claim=(
        "Layers build a hierarchy: what a linear read-out can get from a layer rises with the layer's depth "
        "in a trained net, and not at random init."
    ),
    anchor=(
        "Alain & Bengio 2016 (arXiv 1610.01644): on Inception v3 and ResNet-50 'the linear separability of "
        "features increase[s] monotonically along the depth of the model'. MNIST-1D (Greydanus 2020): "
        "logistic regression on the raw input 32%, MLP 68%, CNN 94% test accuracy."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
