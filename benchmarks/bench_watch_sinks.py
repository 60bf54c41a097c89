"""Cost of ``watch(model, log_to=...)``: what a sink adds per recorded step, against the watch without one.

The MNIST-1D MLP of depth 32 in a plain loop (forward, loss, backward, Adam step) under ``watch(every=10)``:
without a sink, with a sink that discards what it gets (the host sync turning each recorded step into rows),
with TensorBoard and with W&B offline (into one run opened before timing, so its start-up is not counted).
Each round is ``steps`` steps plus the watch's exit (the sink's close: TensorBoard's flush, W&B's tables);
the variants run interleaved round by round in this process, and the cost per recorded step is (round time -
round time without sink) / recorded steps, medians over rounds.

    python benchmarks/bench_watch_sinks.py              # CPU, 1 thread; needs depthlab[tensorboard,wandb]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
from torch.nn import functional as F

from depthlab.data import load_dataset
from depthlab.diagnose import watch
from depthlab.models import create_model


class Discard:
    """A sink that keeps nothing: what is left is the watch's own work for a sink."""

    def write_step(self, step, rows) -> None: ...

    def write_verdicts(self, verdicts) -> None: ...

    def close(self) -> None: ...


def make_round(model, optimizer, x, y, batch_size: int, every: int, sink_for):
    """A function timing ``n`` watched steps and the watch's exit, the sink made by ``sink_for()``."""
    order = torch.randperm(len(x))

    def run(n: int) -> float:
        sink = sink_for()
        start = time.perf_counter()
        with watch(model, every=every, optimizer=optimizer, log_to=sink):
            for step in range(n):
                idx = order[(step * batch_size) % (len(x) - batch_size) :][:batch_size]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return time.perf_counter() - start

    return run


def sinks(folder: str) -> dict:
    """Each variant's sink factory (None: no sink)."""
    import wandb

    from depthlab.diagnose.sink_tensorboard import TensorBoardSink
    from depthlab.diagnose.sink_wandb import WandbSink

    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=folder)
    wandb.init(project="depthlab-bench")  # the sinks log into this run; its start-up is not timed
    count = iter(range(10**6))
    return {
        "no sink": lambda: None,
        "discarding sink": Discard,
        "tensorboard": lambda: TensorBoardSink(f"{folder}/tb{next(count)}"),
        "wandb offline": WandbSink,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("mnist1d")
    model = create_model("mlp", depth=args.depth, width=args.width, **data.model_kwargs())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with tempfile.TemporaryDirectory() as folder:
        variants = sinks(folder)
        rounds = {
            name: make_round(model, optimizer, data.x_train, data.y_train, args.batch_size, args.every, make)
            for name, make in variants.items()
        }
        for run in rounds.values():
            run(args.every)  # warm-up
        times = {name: [] for name in rounds}
        for _ in range(args.rounds):
            for name, run in rounds.items():
                times[name].append(run(args.steps))
        import wandb

        wandb.finish()  # before its folder goes
    report(args, {name: statistics.median(values) for name, values in times.items()})


def report(args, medians: dict[str, float]) -> None:
    recorded = -(-args.steps // args.every)
    base = medians["no sink"]
    print(
        f"torch {torch.__version__}, CPU, threads {args.threads}, MLP depth {args.depth} width {args.width}, "
        f"batch {args.batch_size}, float32, watch every={args.every}, {args.rounds} rounds x {args.steps} "
        f"steps ({recorded} recorded) + exit"
    )
    print(f"{'variant':18} {'ms/round':>9} {'vs no sink':>10} {'ms/recorded step':>17}")
    for name, seconds in medians.items():
        per_recorded = (seconds - base) / recorded * 1e3
        print(f"{name:18} {seconds * 1e3:9.1f} {seconds / base:10.3f} {per_recorded:17.2f}")


if __name__ == "__main__":
    main()
