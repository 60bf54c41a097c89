"""What ``depthlab inspect`` costs: adaptive timing within a budget vs fixed counts, in the same process.

``measure(...)`` (what ``inspect`` runs; ``--time`` = ``time_budget``) against the protocol it replaced: FLOPs
counted on the whole batch (a forward, then a forward + backward), and ``warmup`` + ``repeats`` single timed
calls per step with a hand-written median timer (``inspect`` used 10 + 20). Both include the memory passes and
the depth meter. Reported per protocol: model forwards run (a count, the same on any machine), wall and CPU
seconds (CPU time is the steadier number on a shared machine), the inference and training step medians, and
the ratio baseline / adaptive.

    python benchmarks/bench_inspect.py [--model resnet_cifar] [--depth 56] [--time 1.0] [--repeats 20]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import torch

from depthlab.models import create_model

measure_module = importlib.import_module("depthlab.diagnose.cost")


def fixed_count_seconds(fn, repeats: int, warmup: int) -> float:
    """The replaced timer: ``warmup`` calls, then the median of ``repeats`` single timed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def baseline_measure(model, shape, batch, repeats: int, warmup: int) -> dict:
    """The replaced protocol, built from measure's own parts so only the timing and FLOP batch differ."""
    m = measure_module
    measured = m.copy.deepcopy(model).eval()
    x = torch.randn(batch, *shape)
    m.count_flops(measured, x), m.count_flops(measured, x, backward=True)
    measured.zero_grad(set_to_none=True)
    m.longest_path_depth(measured, x[:2])
    infer = fixed_count_seconds(m._infer_step(measured, x), repeats, warmup)
    m.peak_memory(measured, x, train=False)
    measured.train()
    train = fixed_count_seconds(m._train_step(measured, x), repeats, warmup)
    m.peak_memory(measured, x, train=True)
    return {"infer_step_time": infer * 1e3, "train_step_time": train * 1e3}


def counted(run, model) -> tuple[dict, int, float, float]:
    """(report, forwards of ``model`` or its copies, wall s, CPU s) of ``run()``."""
    calls = [0]
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, _: calls.__setitem__(0, calls[0] + 1) if type(module) is type(model) else None
    )
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        report = run()
    finally:
        hook.remove()
    return report, calls[0], time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="resnet_cifar")
    parser.add_argument("--depth", type=int, default=56)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--time", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    model = create_model(args.model, depth=args.depth)
    shape = tuple(model.config.input_shape)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.model} depth {args.depth}")
    rows = {
        f"adaptive (--time {args.time})": counted(
            lambda: measure_module.measure(model, shape, args.batch_size, time_budget=args.time), model
        ),
        f"fixed ({args.warmup} + {args.repeats})": counted(
            lambda: baseline_measure(model, shape, args.batch_size, args.repeats, args.warmup), model
        ),
    }
    print("| protocol | forwards | wall s | CPU s | infer ms | train ms |")
    print("|---|---|---|---|---|---|")
    for name, (report, calls, wall, cpu) in rows.items():
        print(
            f"| {name} | {calls} | {wall:.1f} | {cpu:.1f} | {report['infer_step_time']:.0f} | "
            f"{report['train_step_time']:.0f} |"
        )
    (_, _, wall_a, cpu_a), (_, _, wall_b, cpu_b) = rows.values()
    print(f"fixed / adaptive: wall {wall_b / wall_a:.1f}x, CPU {cpu_b / cpu_a:.1f}x")


if __name__ == "__main__":
    main()
