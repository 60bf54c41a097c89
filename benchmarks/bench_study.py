"""Study runner speed: runs/minute with 1 vs 2 local workers, the runner+store overhead (time outside
``fit``), and optionally the quick suite's wall time.

    python benchmarks/bench_study.py                # throughput and overhead (a few minutes on 2 cores)
    python benchmarks/bench_study.py --suite        # also time `depthlab study` (the quick suite, 2 workers)

Every number is measured in this process against a baseline measured in the same process (machines are noisy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import torch

from depthlab.study.runner import execute
from depthlab.study.spec import expand, run_hash
from depthlab.study.store import Store


def workload(runs: int, steps: int) -> list[dict]:
    """``runs`` representative training runs (MNIST-1D MLPs of depth 4..16, no diagnostics)."""
    base = {
        "study": "bench",
        "model": {"name": "mlp", "width": 64, "norm": "batch"},
        "data": {"name": "mnist1d"},
        "train": {"steps": steps, "lr": 3e-3},
    }
    depths = [4, 8, 12, 16]
    return expand(
        base, {"model.depth": depths, "seed": list(range((runs + len(depths) - 1) // len(depths)))}
    )[:runs]


def timed(specs: list[dict], workers: int) -> tuple[float, float, float]:
    """(wall seconds, sum of seconds inside fit, sum of seconds inside the workers' runs) for a fresh
    directory."""
    out = tempfile.mkdtemp(prefix="bench_study_")
    try:
        start = time.perf_counter()
        execute(specs, out, workers=workers, quiet=True)
        wall = time.perf_counter() - start
        with Store(out) as store:
            rows = store.get_many(run_hash(s) for s in specs).values()
        return wall, sum(r["fit_seconds"] or 0 for r in rows), sum(r["run_seconds"] or 0 for r in rows)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--suite", action="store_true", help="also time the quick suite (depthlab study)")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}, "
        f"{args.runs} runs x {args.steps} steps (MNIST-1D MLP, width 64, BN, depth 4-16), float32, CPU"
    )
    from depthlab.study.tasks import dataset_for

    dataset_for({"data": {"name": "mnist1d"}})  # the inline worker's data cache is warm, as in a long study
    specs = workload(args.runs, args.steps)
    one = timed(specs, 1)
    two = timed(specs, 2)
    for name, (wall, fit_s, run_s) in (("1 worker", one), ("2 workers", two)):
        print(
            f"{name:10s} wall {wall:7.1f}s  runs/min {60 * len(specs) / wall:6.1f}  inside fit "
            f"{fit_s:7.1f}s  "
            f"inside runs {run_s:7.1f}s"
        )
    print(f"speed-up with 2 workers: {one[0] / two[0]:.2f}x (target >= 1.5x)")
    outside_fit = (one[0] - one[1]) / one[0]
    print(
        f"1 worker: time outside fit (runner + store + model build + evaluation of the spec) "
        f"{100 * outside_fit:.1f}% of wall; runner + store alone (outside the runs) "
        f"{100 * (one[0] - one[2]) / one[0]:.2f}% (target <= 5%)"
    )
    if args.suite:
        out = tempfile.mkdtemp(prefix="bench_suite_")
        start = time.perf_counter()
        from depthlab.study.suite import run_suite

        summary, html = run_suite(out=out, workers=2, quiet=True)
        print(
            f"quick suite: {summary.total} runs, {time.perf_counter() - start:.0f}s wall with 2 workers "
            f"({dict(summary.statuses)})"
        )
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
