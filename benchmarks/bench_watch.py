"""Overhead of ``depthlab.diagnose.watch`` on a training step: the MNIST-1D MLP of depth 32.

Targets (issue): <= 10% of step time at every=10, <= 50% at every=1. A plain training loop (forward, loss,
backward, Adam step) is timed without watch, and with watch through optimizer hooks (every=10, every=1) and as
a ``fit``-style callback, all in this process, interleaved round by round so that machine noise hits every
variant alike; each number is the median over rounds of the time per step.

    python benchmarks/bench_watch.py                 # CPU, 1 thread
    python benchmarks/bench_watch.py --device cuda   # on a GPU
    python benchmarks/bench_watch.py --device cuda --json rows.jsonl   # + one row per variant (gpu_table.py)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F

from depthlab.data import load_dataset
from depthlab.diagnose import watch
from depthlab.models import create_model


def make_loop(model, optimizer, x, y, batch_size, device, mode, every):
    """A function running ``n`` training steps, watched in ``mode`` (none | hooks | callback)."""
    order = torch.randperm(len(x), device=device)

    def run(n: int) -> float:
        hooked = optimizer if mode == "hooks" else None
        w = None if mode == "none" else watch(model, every=every, optimizer=hooked)
        if w is not None:
            w.on_train_start(None) if mode == "callback" else w.attach()
        sync(device)
        start = time.perf_counter()
        for step in range(n):
            idx = order[(step * batch_size) % (len(x) - batch_size) :][:batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if mode == "callback":
                w.on_backward(None)
            optimizer.step()
            if mode == "callback":
                w.on_step(None)
        sync(device)
        elapsed = time.perf_counter() - start
        if w is not None:
            w.detach()
            assert w.rows  # the table is read (the one host sync) outside the timed region
        return elapsed / n

    return run


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="append one row per variant to this JSONL file (gpu_table.py)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = load_dataset("mnist1d").to(device)
    model = create_model("mlp", depth=args.depth, width=args.width, **data.model_kwargs()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    variants = {
        "no watch": ("none", 1),
        "watch every=10": ("hooks", 10),
        "watch every=1": ("hooks", 1),
        "callback every=10": ("callback", 10),
        "callback every=1": ("callback", 1),
    }
    loops = {
        name: make_loop(model, optimizer, data.x_train, data.y_train, args.batch_size, device, *v)
        for name, v in variants.items()
    }
    for loop in loops.values():
        loop(10)  # warm-up
    times = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            times[name].append(loop(args.steps))
    base = statistics.median(times["no watch"])
    print(
        f"device {device}, torch {torch.__version__}, threads {args.threads}, MLP depth {args.depth} "
        f"width {args.width}, batch {args.batch_size}, float32, {args.rounds} rounds x {args.steps} steps"
    )
    print(f"{'variant':20} {'ms/step':>9} {'overhead':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:20} {median * 1e3:9.3f} {median / base - 1:9.1%}")
        emit_row(args, device, name, median, base)


def emit_row(args, device: torch.device, name: str, seconds: float, base: float) -> None:
    """One row for the GPU check's table (gpu_table.py), keyed ``watch/every10`` etc."""
    from gpu_table import device_name, emit

    key = "watch/" + name.replace("watch ", "").replace(" ", "_").replace("=", "")
    emit(
        args.json,
        step="watch",
        key=key,
        case=f"MLP depth {args.depth} width {args.width}, {name}",
        device=device_name(device),
        dtype="fp32",
        memory_format="contiguous",
        batch=args.batch_size,
        mode="eager",
        value=seconds * 1e3,
        unit="ms/step",
        ratio=seconds / base if name != "no watch" else float("nan"),
        baseline="no watch",
    )


if __name__ == "__main__":
    main()
