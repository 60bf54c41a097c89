"""Composition study: depth is exponentially efficient for some functions (Telgarsky 2015, arXiv 1509.08101;
Montúfar et al. 2014, arXiv 1402.1869), and gradient descent does not necessarily find the deep solution
(Hanin & Rolnick 2019, arXiv 1901.09021).

Target: the sawtooth tent^k on [0, 1] (2^k linear pieces). At an equal parameter count 6k + 1:

- deep, constructed: k + 1 layers of 2 ReLUs set by hand to compute tent^k exactly (no training);
- deep, trained: the same shape trained by Adam from random init (several seeds);
- shallow, trained: one hidden layer of 2k ReLUs (at most 2k + 1 pieces).

Evidence: test MSE and the linear pieces each net actually has, against k.
"""

from __future__ import annotations

import math

from depthlab.study.presets.base import Finding, Row, Study, finished, metric, sci, undecided, where
from depthlab.study.presets.plotting import lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"ks": [2, 3, 4, 5], "seeds": [0, 1, 2], "steps": 1000},
    "full": {"ks": [2, 3, 4, 5, 6, 7, 8], "seeds": [0, 1, 2, 3, 4, 5, 6, 7], "steps": 20000},
}
SOLVED = 0.01  # test MSE below which a net counts as having found the sawtooth (its variance is 1/12)


def _shapes(k: int, steps: int) -> dict[str, dict]:
    train = {"train": {"steps": steps, "lr": 1e-2, "batch_size": 256, "schedule": "cosine"}}
    return {
        "deep (constructed)": {"task": "construct", "model.depth": k + 1, "model.width": 2},
        "deep (trained)": {"model.depth": k + 1, "model.width": 2, **train},
        "shallow (trained)": {"model.depth": 2, "model.width": 2 * k, **train},
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
    # The constructed net involves no randomness: one run per k (the first seed).
    return [spec for spec in specs if spec.get("task") != "construct" or spec["seed"] == s["seeds"][0]]


def pieces(row: Row) -> float:
    value = (row.get("diagnostics") or {}).get("pieces")
    return float(value) if value is not None else math.nan


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 3)) is not None:
        return pending
    k = max(r["k"] for r in rows)
    at_k = where(rows, k=k)
    best = {
        shape: min((metric(r, "test_loss") for r in finished(where(at_k, shape=shape))), default=math.nan)
        for shape in ("deep (constructed)", "deep (trained)", "shallow (trained)")
    }
    trained = finished(where(at_k, shape="deep (trained)"))
    found = sum(metric(r, "test_loss") < SOLVED for r in trained)
    most = {
        shape: max((pieces(r) for r in where(at_k, shape=shape)), default=math.nan)
        for shape in ("deep (trained)", "shallow (trained)")
    }
    held = best["deep (constructed)"] < 0.1 * best["shallow (trained)"]
    params = 6 * k + 1
    verdict = (
        f"tent^{k} ({2**k} pieces) with {params} parameters: the constructed deep net has test MSE "
        f"{sci(best['deep (constructed)'])}, the best shallow net {sci(best['shallow (trained)'])} "
        f"(≤ {2 * k + 1} pieces possible, at most {most['shallow (trained)']:.0f} found); trained from "
        f"random "
        f"init, the deep shape reached {sci(best['deep (trained)'])} at best and found the sawtooth in "
        f"{found} of {len(trained)} seeds (at most {most['deep (trained)']:.0f} pieces): depth can represent "
        f"it, SGD {'can' if found else 'did not'} find it here"
    )
    return Finding(held, verdict, {"best_mse": best, "deep_trained_solved": found})


def plot(rows: list[Row], figure) -> None:
    left, right = figure.subplots(1, 2)
    lines(left, rows, "k", lambda r: max(metric(r, "test_loss"), 1e-8), by="shape", logy=True)
    left.set(title="test MSE vs k (equal parameters 6k+1)", ylabel="test MSE (floored at 1e-8)")
    lines(right, rows, "k", pieces, by="shape", logy=True)
    right.set(title="linear pieces found", ylabel="pieces")


STUDY = Study(
    name="composition",
    claim=(
        "Composition makes depth exponentially efficient: at equal parameters a deep narrow ReLU net can "
        "fit a sawtooth with 2^k pieces that a shallow wide one cannot."
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
