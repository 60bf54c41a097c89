"""The one timer against the two forward-timing policies it replaced, in the same process, interleaved.

- the advisor's latency column: ``time_forward(model, x, 0.2)`` against the replaced protocol, 10 warm-up
  calls then the fastest of five ``blocked_autorange(min_run_time=0.04)`` medians, in ``inference_mode``;
- the cost study's latency task: ``time_forward(model, x, 0.05, threads=1)`` against one
  ``blocked_autorange(min_run_time=0.05)`` on one thread under ``no_grad``.

Per model, batch 1, each pair is run ``--repeats`` times in alternation (so a drifting machine load touches
both alike). Reported: each policy's median of its reported ms, the spread of its reported ms over the repeats
(max/min), the wall seconds each timing took, and the ratios new / replaced.

    python benchmarks/bench_timer.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils import benchmark

from depthlab.deploy import deploy_form
from depthlab.diagnose.timing import time_forward
from depthlab.models import create_model

MODELS = {
    "mlp d4 w64": ("mlp", (1, 40), {"depth": 4, "width": 64}),
    "resnet_cifar d20": ("resnet_cifar", (3, 32, 32), {"depth": 20}),
    "parnet_lite": ("parnet_lite", (3, 32, 32), {}),
}


def replaced_advisor(model, x) -> float:
    timer = benchmark.Timer("model(x)", globals={"model": model, "x": x}, num_threads=torch.get_num_threads())
    with torch.inference_mode():
        for _ in range(10):
            model(x)
        return 1e3 * min(timer.blocked_autorange(min_run_time=0.04).median for _ in range(5))


def replaced_study(model, x) -> float:
    timer = benchmark.Timer("model(x)", globals={"model": model, "x": x}, num_threads=1)
    with torch.no_grad():
        return 1e3 * timer.blocked_autorange(min_run_time=0.05).median


POLICIES = {
    "advisor": (replaced_advisor, lambda model, x: time_forward(model, x, 0.2).ms),
    "study": (replaced_study, lambda model, x: time_forward(model, x, 0.05, threads=1).ms),
}


def timed(policy, model, x) -> tuple[float, float]:
    started = time.perf_counter()
    ms = policy(model, x)
    return ms, time.perf_counter() - started


def compare(model, x, repeats: int) -> dict[str, dict[str, float]]:
    rows = {}
    for caller, (old, new) in POLICIES.items():
        runs = {"replaced": [], "one timer": []}
        for _ in range(repeats):
            runs["replaced"].append(timed(old, model, x))
            runs["one timer"].append(timed(new, model, x))
        for name, values in runs.items():
            ms, wall = [v[0] for v in values], [v[1] for v in values]
            rows[f"{caller}, {name}"] = {
                "ms": statistics.median(ms),
                "spread": max(ms) / min(ms),
                "wall_s": statistics.median(wall),
            }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu, float32, batch 1, deploy form")
    for label, (name, shape, overrides) in MODELS.items():
        torch.manual_seed(0)
        model = deploy_form(create_model(name, input_shape=shape, num_classes=10, **overrides))
        rows = compare(model, torch.randn(1, *shape), args.repeats)
        print(f"\n{label}")
        print(f"  {'policy':24s} {'ms':>8s} {'max/min':>8s} {'wall s':>7s}")
        for policy, row in rows.items():
            print(f"  {policy:24s} {row['ms']:8.4f} {row['spread']:8.3f} {row['wall_s']:7.3f}")
        for caller in POLICIES:
            new, old = rows[f"{caller}, one timer"], rows[f"{caller}, replaced"]
            print(
                f"  {caller}: one timer / replaced: ms x{new['ms'] / old['ms']:.3f}, "
                f"wall x{new['wall_s'] / old['wall_s']:.3f}"
            )


if __name__ == "__main__":
    main()
