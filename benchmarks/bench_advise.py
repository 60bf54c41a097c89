"""The advisor against the exhaustive grid: does ``advise`` find the grid's depth for a fraction of its steps?

For each data set the grid trains every depth in ``--depths`` with ``--grid-seeds`` seeds to a plateau (the
same ``fit(steps=T, plateau_window, plateau_tol)`` runs as the advisor's finalists); the advisor then runs
from an empty store with ``--seeds`` seeds per finalist. Reported, per data set, against the targets:

- test accuracy of the advised depth (grid mean over seeds) within 1 point of the grid's best depth (best by
  mean validation accuracy; its test mean);
- mean absolute error of the advisor's predicted validation accuracy at the depths it pruned (extrapolated
  at a rung, or the one full-budget seed a depth was cut on), against the grid's mean validation accuracy
  there: at most 2 points;
- coverage: the advisor's interval (measured or predicted) contains the grid's mean at >= 80% of depths;
- the advisor's training steps (probes, rungs, finals) at most 30% of the grid's (steps actually run).

Data: MNIST-1D (procedural: 20000 samples for a validation split of 1600), digits (bundled with scikit-learn),
and scikit-learn's bundled breast-cancer table, written as a CSV and loaded as a user's file
(``load_dataset(path, target=...)``). One torch thread (the machine is shared; the step counts do not depend
on it). The grid's runs are cached in ``--out``/grid-<data>.json so a rerun reuses them.

    python benchmarks/bench_advise.py [--data mnist1d,digits,breast_cancer] [--depths 1,2,3,4,5,6]
        [--steps 1500] [--grid-seeds 5] [--seeds 3] [--eta 3] [--finalists 2] [--out runs/bench_advise]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from depthlab.advise import advise
from depthlab.advise.runs import train_run
from depthlab.data import load_dataset

DATA = {
    "mnist1d": ("mnist1d", {"num_samples": 20000}),
    "digits": ("digits", {}),
    "breast_cancer": (None, {"target": "target", "val_fraction": 0.3}),
}
TRAIN = {"lr": 3e-3, "batch_size": 64}


def breast_cancer_csv(out: Path) -> str:
    from sklearn.datasets import load_breast_cancer

    path = out / "breast_cancer.csv"
    if not path.exists():
        load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return str(path)


def data_spec(key: str, out: Path) -> tuple[str, dict]:
    name, options = DATA[key]
    return (name or breast_cancer_csv(out)), options


def grid(key: str, name: str, options: dict, depths: list[int], seeds: int, steps: int, out: Path) -> dict:
    """Every depth x seed trained to a plateau; cached per data set."""
    cache = out / f"grid-{key}-{steps}.json"
    runs = json.loads(cache.read_text()) if cache.exists() else {}
    data = load_dataset(name, **options)
    train = {**TRAIN, "steps": steps, "plateau_window": max(1, steps // 10), "plateau_tol": 0.01}

    for d in depths:
        for s in range(seeds):
            if f"{d}/{s}" not in runs:
                runs[f"{d}/{s}"] = train_run("mlp", {}, data, d, s, train)
                cache.write_text(json.dumps(runs))
    return runs


def summarize_grid(runs: dict, depths: list[int], seeds: int) -> dict:
    by = {d: [runs[f"{d}/{s}"] for s in range(seeds)] for d in depths}
    return {
        "val": {d: float(np.mean([r["val_acc"] for r in rs])) for d, rs in by.items()},
        "test": {d: float(np.mean([r["test_acc"] for r in rs])) for d, rs in by.items()},
        "steps": sum(r["steps"] for rs in by.values() for r in rs),
        "converged": sum(bool(r["converged"]) for rs in by.values() for r in rs),
        "runs": sum(len(rs) for rs in by.values()),
    }


def compare(advice: dict, g: dict) -> dict:
    best = max(g["val"], key=g["val"].get)
    chosen = advice["recommended_depth"]
    pruned = [c for c in advice["candidates"] if c["status"] == "pruned" and c["predicted"]]
    errors = [abs(c["predicted"]["mean"] - g["val"][c["depth"]]) for c in pruned]
    covered = [
        c["accuracy"]["low"] <= g["val"][c["depth"]] <= c["accuracy"]["high"]
        for c in advice["candidates"]
        if c["accuracy"]
    ]
    return {
        "grid best depth": best,
        "advised depth": chosen,
        "test gap (pts)": 100 * (g["test"][best] - g["test"][chosen]),
        "pruned MAE (pts)": 100 * float(np.mean(errors)) if errors else math.nan,
        "pruned depths": len(errors),
        "coverage": float(np.mean(covered)) if covered else math.nan,
        "steps ratio": advice["steps_used"] / g["steps"],
        "advisor steps": advice["steps_used"],
        "grid steps": g["steps"],
        "grid converged": f"{g['converged']}/{g['runs']}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist1d,digits,breast_cancer")
    parser.add_argument("--depths", default="1,2,3,4,5,6")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--grid-seeds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--finalists", type=int, default=2)
    parser.add_argument("--out", default="runs/bench_advise")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    depths = [int(d) for d in args.depths.split(",")]
    results = {}
    for key in args.data.split(","):
        name, options = data_spec(key, out)
        started = time.perf_counter()
        g = summarize_grid(
            grid(key, name, options, depths, args.grid_seeds, args.steps, out), depths, args.grid_seeds
        )
        grid_s = time.perf_counter() - started
        started = time.perf_counter()
        advice_dir = out / f"advice-{key}-{args.steps}-eta{args.eta}-f{args.finalists}"
        result = advise(
            name,
            "mlp",
            data_options=options,
            depths=tuple(depths),
            steps=args.steps,
            seeds=args.seeds,
            eta=args.eta,
            finalists=args.finalists,
            train=TRAIN,
            out=str(advice_dir),
            quiet=True,
        )
        advice = json.loads((advice_dir / "advice.json").read_text())
        row = compare(advice, g) | {"grid s": round(grid_s), "advise s": round(time.perf_counter() - started)}
        row["resumed pieces"] = result.resumed
        results[key] = row | {
            "grid val %": {d: round(100 * v, 1) for d, v in g["val"].items()},
            "grid test %": {d: round(100 * v, 1) for d, v in g["test"].items()},
            "advice": [(c["depth"], c["status"], c["accuracy"]) for c in advice["candidates"]],
        }
        print(json.dumps({key: results[key]}, indent=1), flush=True)
    (out / f"summary-{args.steps}-eta{args.eta}-f{args.finalists}.json").write_text(
        json.dumps(results, indent=1)
    )


if __name__ == "__main__":
    main()
