"""Study runner speed: runs/minute with 1 vs 2 local workers, the runner+store overhead (time outside
``fit``), optionally the quick suite's wall time and where it goes (CPU seconds per preset), and the
vectorized-seeds lever (torch.func: 5 seeds of one cell in one vmapped step vs 5 separate steps, same seeds,
same numbers).

    python benchmarks/bench_study.py                # throughput and overhead (a few minutes on 2 cores)
    python benchmarks/bench_study.py --suite        # also time `depthlab study` (the quick suite, 2 workers)
    python benchmarks/bench_study.py --ensemble     # only the vectorized-seeds comparison (seconds)

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


def ensemble_vs_separate(seeds: int = 5, steps: int = 100, depth: int = 8, width: int = 64) -> None:
    """Per-step time of ``seeds`` MLPs trained separately vs as one vmapped ensemble (stack_module_state +
    functional_call + vmap), from the same initial weights on the same batches; the losses must agree."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    from depthlab.models import create_model

    torch.set_num_threads(1)

    def nets() -> list[torch.nn.Module]:
        out = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            out.append(create_model("mlp", depth=depth, width=width, norm="batch", input_shape=(1, 40)))
        return out

    x, y = torch.randn(seeds, 128, 1, 40), torch.randint(0, 10, (seeds, 128))
    separate = nets()
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in separate]
    start = time.perf_counter()
    for _ in range(steps):
        for i, (model, opt) in enumerate(zip(separate, optimizers, strict=True)):
            torch.nn.functional.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    t_separate = (time.perf_counter() - start) / steps
    members = nets()
    params, buffers = stack_module_state(members)
    skeleton = copy.deepcopy(members[0]).to("meta")

    def loss(p, b, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(skeleton, (p, b), (xi,)), yi)

    opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        vmap(loss)(params, buffers, x, y).sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    t_vmap = (time.perf_counter() - start) / steps
    with torch.no_grad():
        final = [torch.nn.functional.cross_entropy(m.eval()(x[i]), y[i]) for i, m in enumerate(separate)]
        gap = 0.0  # member 0 of the ensemble against the first separate run: the same training
        for name, p in separate[0].named_parameters():
            gap = max(gap, float((p - params[name][0]).abs().max()))
    print(
        f"{seeds} seeds, MLP depth {depth} width {width} BN, batch 128, 1 thread: separate "
        f"{1e3 * t_separate:.1f} ms per step of all seeds, vmapped {1e3 * t_vmap:.1f} ms: "
        f"{t_separate / t_vmap:.2f}x faster; member 0 vs separate run 0 after {steps} steps: max weight "
        f"difference {gap:.1e}; final losses "
        f"{[round(float(v), 3) for v in final]}"
    )


def suite_breakdown(out: str) -> None:
    """CPU seconds (summed over runs) per preset, from the store: where the suite's time goes."""
    import sqlite3

    db = sqlite3.connect(f"{out}/results.sqlite")
    query = (
        "select study, count(*), sum(json_extract(metrics, '$.cpu_seconds')), sum(run_seconds) from runs "
        "group by study order by 3 desc"
    )
    for study, runs, cpu, wall in db.execute(query):
        print(f"  {study:15s} {runs:4d} runs  {cpu or 0:7.1f} CPU-s  {wall or 0:7.1f} s inside runs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--suite", action="store_true", help="also time the quick suite (depthlab study)")
    parser.add_argument("--ensemble", action="store_true", help="only the vectorized-seeds comparison")
    args = parser.parse_args()
    if args.ensemble:
        ensemble_vs_separate()
        return
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
        suite_breakdown(out)
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
