"""Composition study: depth is exponentially efficient for some functions (Telgarsky 2015, arXiv 1509.08101;
Montúfar et al. 2014, arXiv 1402.1869), and gradient descent does not necessarily find the deep solution
(Hanin & Rolnick 2019, arXiv 1901.09021).

Target: the sawtooth tent^k on [0, 1] (2^k linear pieces), test MSE on a grid of 1001 points. At an equal
parameter count 6k + 1:

- deep, constructed: k + 1 layers of 2 ReLUs set by hand to compute tent^k exactly (no training);
- shallow, best achievable: one hidden layer of 2k ReLUs computes at most 2k + 1 linear pieces, so no such
  net beats the best (2k + 1)-piece L2 fit, computed exactly (``study.piecewise``; no training);
- trained from scratch (reported apart from the rule): the deep and the shallow shape, Adam, 5 seeds,
  to a plateau; the report says how many learned a constant.

The rule: at the largest k the deep construction beats the best shallow fit by more than ``SOLVED``, and
where the shallow piece budget covers 2^k the best shallow fit succeeds (so the gap comes from the budget).
Both sides are exact numbers, so their "interval" is the number itself.
"""

from __future__ import annotations

import math
from typing import Any

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    decide,
    finished,
    metric,
    per_seed,
    sci,
    undecided,
    where,
)
from depthlab.study.presets.plotting import PALETTE, label_axes, lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"ks": [2, 3, 4, 5], "seeds": [0, 1, 2, 3, 4], "steps": 2000},
    "full": {"ks": [2, 3, 4, 5, 6, 7, 8], "seeds": list(range(10)), "steps": 20000},
}
SOLVED = 0.01  # test MSE below which a net counts as having fit the sawtooth (its variance is 1/12)
TARGET_VARIANCE = 1 / 12  # tent^k(x) is uniform on [0, 1] for uniform x: a constant fit has MSE 1/12
CONSTANT = 0.95 * TARGET_VARIANCE  # a trained net at or above this MSE has learned (about) a constant
CONSTRUCTED, OPTIMUM = "deep (constructed)", "shallow (best possible)"
DEEP, SHALLOW = "deep (trained)", "shallow (trained)"

DEPTH_WINS = stats.Comparison(
    "depth wins at the largest k",
    "best test MSE of a (2k+1)-piece fit minus the deep construction's test MSE",
    direction=1,
    min_effect=SOLVED,
    unit=" ×1e-3",
    scale=1000.0,
)
BUDGET_SUFFICES = stats.Comparison(
    "the shallow budget suffices where 2k+1 >= 2^k",
    f"{SOLVED} minus the best test MSE of a (2k+1)-piece fit, at the largest such k",
    direction=1,
    min_effect=0.0,
    unit=" ×1e-3",
    scale=1000.0,
)


def _shapes(k: int, steps: int) -> dict[str, dict]:
    train = {"train": {"steps": steps, "lr": 1e-2, "batch_size": 256, "plateau_window": 200}}
    return {
        CONSTRUCTED: {"task": "construct", "model.depth": k + 1, "model.width": 2},
        OPTIMUM: {
            "task": "optimum",
            "optimum": {"pieces": 2 * k + 1},
            "model.depth": 2,
            "model.width": 2 * k,
        },
        DEEP: {"model.depth": k + 1, "model.width": 2, **train},
        SHALLOW: {"model.depth": 2, "model.width": 2 * k, **train},
    }


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    specs = []
    for k in s["ks"]:
        base = {
            "study": "composition",
            "model": {"name": "mlp", "activation": "relu"},
            "data": {"name": "sawtooth", "k": k, "num_samples": 2000},
            "diagnostics": ["pieces"],
            "tags": {"k": k},
        }
        specs += expand(base, {"shape": _shapes(k, s["steps"]), "seed": s["seeds"]})
    # The construction and the optimum involve no randomness: one run each per k (the first seed).
    exact = (CONSTRUCTED, OPTIMUM)
    return [spec for spec in specs if spec["tags"]["shape"] not in exact or spec["seed"] == s["seeds"][0]]


def pieces(row: Row) -> float:
    value = (row.get("diagnostics") or {}).get("pieces")
    return float(value) if value is not None else math.nan


def exact_clause(comparison: stats.Comparison, value: float) -> stats.Clause:
    """A clause on an exact number (no sampling noise): its interval is the number itself."""
    iv = stats.Interval(value, value, value, 1, "exact")
    return comparison.judge_interval(iv)


def _exact(rows: list[Row], shape: str, k: int) -> float:
    values = [metric(r, "test_loss") for r in finished(where(rows, shape=shape, k=k))]
    return values[0] if values else math.nan


def clauses(rows: list[Row]) -> list[stats.Clause]:
    """The rule's two clauses, from the exact runs."""
    ks = sorted({r["k"] for r in rows})
    top = max(ks)
    covered = [k for k in ks if 2 * k + 1 >= 2**k]
    gap = _exact(rows, OPTIMUM, top) - _exact(rows, CONSTRUCTED, top)
    out = [exact_clause(DEPTH_WINS, gap)]
    if covered:
        out.append(exact_clause(BUDGET_SUFFICES, SOLVED - _exact(rows, OPTIMUM, max(covered))))
    return out


def trained_summary(rows: list[Row], shape: str, k: int) -> dict[str, Any]:
    """Seeds, how many fit the sawtooth (MSE < SOLVED) or learned a constant, the median MSE, most pieces."""
    mse = per_seed(rows, "test_loss", shape=shape, k=k)
    values = sorted(v for v in mse.values() if math.isfinite(v))
    found = [pieces(r) for r in finished(where(rows, shape=shape, k=k))]
    return {
        "seeds": len(values),
        "fit": sum(v < SOLVED for v in values),
        "constant": sum(v >= CONSTANT for v in values),
        "median_mse": values[len(values) // 2] if values else math.nan,
        "most_pieces": max((p for p in found if math.isfinite(p)), default=math.nan),
    }


def _trained_words(summary: dict[str, Any], label: str) -> str:
    s = summary
    return (
        f"{label} fit it in {s['fit']} of {s['seeds']} seeds and learned a constant in {s['constant']} "
        f"(median MSE {sci(s['median_mse'])}, at most {s['most_pieces']:.0f} pieces)"
    )


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 3)) is not None:
        return pending
    k = max(r["k"] for r in rows)
    judged = clauses(rows)
    trained = {shape: trained_summary(rows, shape, k) for shape in (DEEP, SHALLOW)}
    deep, shallow = (
        _trained_words(trained[s], label) for s, label in ((DEEP, "the deep shape"), (SHALLOW, "the shallow"))
    )
    detail = (
        f"tent^{k} ({2**k} pieces) with {6 * k + 1} parameters: the constructed deep net has test MSE "
        f"{sci(_exact(rows, CONSTRUCTED, k))}; no shallow net of that size beats "
        f"{sci(_exact(rows, OPTIMUM, k))} (the best {2 * k + 1}-piece fit). Trained from random init "
        f"(reported apart from the rule): {deep}; {shallow} — depth can represent it; gradient descent "
        f"{'found it' if trained[DEEP]['fit'] else 'did not'} here"
    )
    finding = decide(judged, where(rows, shape=DEEP) + where(rows, shape=SHALLOW), detail)
    finding.numbers = {
        "exact_mse": {
            shape: {kk: _exact(rows, shape, kk) for kk in sorted({r["k"] for r in rows})}
            for shape in (CONSTRUCTED, OPTIMUM)
        },
        "trained": trained,
    }
    return finding


def plot(rows: list[Row], figure) -> None:
    left, right = figure.subplots(1, 2)
    lines(
        left,
        rows,
        "k",
        lambda r: max(metric(r, "test_loss"), 1e-8),
        by="shape",
        logy=True,
        ylabel="test MSE (floored at 1e-8)",
    )
    left.axhline(SOLVED, color="gray", ls=":", lw=1, label=f"solved (MSE {SOLVED})")
    left.axhline(TARGET_VARIANCE, color="gray", ls="--", lw=1, label="a constant (MSE 1/12)")
    left.set_title("test MSE vs k (equal parameters 6k+1)", fontsize=10)
    left.legend(fontsize=7)
    fitted = [r for r in rows if r["shape"] != OPTIMUM]
    lines(right, fitted, "k", pieces, by="shape", logy=True, ylabel="linear pieces")
    ks = sorted({r["k"] for r in rows})
    right.plot(ks, [2**k for k in ks], color=PALETTE(CONSTRUCTED), ls=":", lw=1, label="2^k (tent^k)")
    right.plot(ks, [2 * k + 1 for k in ks], color=PALETTE(OPTIMUM), ls=":", lw=1, label="2k+1 (shallow max)")
    label_axes(right, "k", "linear pieces", "linear pieces of each net")
    right.legend(fontsize=7)


STUDY = Study(
    name="composition",
    claim=(
        "Composition makes depth exponentially efficient: at equal parameters a deep narrow ReLU net can "
        "fit a sawtooth with 2^k pieces that no shallow wide one can."
    ),
    anchor=(
        "Telgarsky 2015/2016 (arXiv 1509.08101, 1602.04485): k layers × 2 ReLUs compute tent^k with 2^k "
        "pieces; one hidden layer of m units has at most m + 1 pieces. Hanin & Rolnick 2019: at init and in "
        "typical training the number of pieces grows with the number of neurons, not exponentially with "
        "depth."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
    default_data="sawtooth",
    data_kinds=("scalar",),
)
