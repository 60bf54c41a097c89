"""depthlab's engine (``fit``) vs the training loop a user writes, in one process, same model, data and steps.

The plain loop: ``TensorDataset`` + ``DataLoader(batch_size=128, shuffle=True)``, ``zero_grad``, forward,
``backward``, ``step``, ``loss.item()`` for the log. It loses time collating each batch sample by sample in
Python and syncing on every ``.item()``; the engine slices batches out of tensors with a seeded permutation,
keeps losses on the device, sets gradients to None and uses fused optimizer kernels.

The ``ceiling`` column: a bare loop over batches sliced beforehand (fused Adam, nothing else per step) against
the plain loop. No training loop beats it, so where it is low the model's own kernels are the limit.

Also measured: the achieved GFLOP/s of a wide MLP training step, as a fraction of this machine's fp32 matmul
peak measured in the same run; and, on CUDA, a CIFAR-shaped ResNet-20 on random data (bf16, channels_last,
``torch.compile(mode="reduce-overhead")``, i.e. CUDA graphs) vs the plain fp32 loop. On the CPU that last part
runs at toy size only to exercise the code path.

``--cifar``: the GPU comparison of ``spec/performance.md`` instead. ResNet-20 (He et al. 2016,
arXiv 1512.03385) on random CIFAR-shaped data, SGD with momentum, at each ``--batch-sizes``: the naive loop
users write (uint8 images turned into floats, padded, cropped, flipped and normalized one sample at a time
in a ``Dataset``, ``DataLoader`` with ``--workers`` workers, fp32, NCHW, ``loss.item()`` per step) vs ``fit``
(normalized data on the device, one batched crop + flip per batch, bf16 autocast, channels_last), eager and
compiled (``--compile-mode``, default ``reduce-overhead``: CUDA graphs). Each loop is timed in steady state:
the clock starts after ``--skip`` steps (worker start-up, cuDNN autotuning, compilation and graph capture) and
stops at the last step; ``fit``'s end-to-end rate, compilation included, is reported too. ``--json FILE``
appends every number as a row for ``gpu_table.py``.

    python benchmarks/bench_engine.py [--steps 400] [--device auto] [--threads N] [--width 2048]
    python benchmarks/bench_engine.py --cifar --device cuda [--batch-sizes 128 512] [--json rows.jsonl]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from depthlab.data.dataset import Dataset
from depthlab.models import create_model
from depthlab.train import fit
from depthlab.train.callbacks import Callback


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(
    model, x, y, steps: int, batch_size: int, lr: float, device: torch.device, channels_last: bool = False
) -> float:
    """The baseline; returns samples/s over ``steps`` steps (the data start on the CPU, as a user's would)."""
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, drop_last=True)
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    done, samples, logged = 0, 0, 0.0
    sync(device)
    start = time.perf_counter()
    while done < steps:
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            logged += loss.item()
            done, samples = done + 1, samples + len(yb)
            if done == steps:
                break
    sync(device)
    return samples / (time.perf_counter() - start)


def bare_loop(model, x, y, steps: int, batch_size: int, lr: float, device: torch.device) -> float:
    """The ceiling of any training loop for this model: batches sliced beforehand and already on the device,
    fused Adam, and nothing else per step (no shuffling, no logging, no checks). ``bare / plain`` is the most
    that any loop can gain over the plain one; the rest is the model's own forward, backward and update."""
    model = model.to(device)
    x, y = x.to(device), y.to(device)
    starts = range(0, len(x) - batch_size + 1, batch_size)
    batches = [(x[i : i + batch_size], y[i : i + batch_size]) for i in starts]
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    sync(device)
    start = time.perf_counter()
    for step in range(steps):
        xb, yb = batches[step % len(batches)]
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync(device)
    return steps * batch_size / (time.perf_counter() - start)


def engine(model, data: Dataset, steps: int, batch_size: int, lr: float, **options) -> float:
    """depthlab's ``fit``: samples/s of its training loop (perf_counter around the loop, evaluations excluded,
    as the plain loop's timing excludes them)."""
    history = fit(
        model,
        data,
        steps=steps,
        batch_size=batch_size,
        optimizer="adam",
        lr=lr,
        quiet=True,
        eval_every=10**6,
        **options,
    )
    return history.samples_per_sec


def as_dataset(x: torch.Tensor, y: torch.Tensor, classes: int) -> Dataset:
    return Dataset("bench", x, y, x[:256], y[:256], x[:256], y[:256], num_classes=classes)


def compare(
    name: str,
    make_model,
    x,
    y,
    classes: int,
    steps: int,
    batch: int,
    device: torch.device,
    repeats: int = 5,
    **engine_options,
) -> dict:
    """Median samples/s of each loop over ``repeats`` alternating runs (after one warm-up run of each), and of
    the bare loop (the ceiling, see ``bare_loop``) where the engine runs without options."""
    data = as_dataset(x, y, classes)
    plain, ours, bare = [], [], []
    for i in range(repeats + 1):
        torch.manual_seed(i)
        p = plain_loop(
            make_model(),
            x,
            y,
            steps,
            batch,
            1e-3,
            device,
            channels_last=engine_options.get("channels_last", False),
        )
        torch.manual_seed(i)
        e = engine(make_model(), data, steps, batch, 1e-3, device=device.type, **engine_options)
        torch.manual_seed(i)
        b = bare_loop(make_model(), x, y, steps, batch, 1e-3, device) if not engine_options else float("nan")
        if i:  # the first round warms up caches, allocators and compilation
            plain.append(p)
            ours.append(e)
            bare.append(b)
    row = {"case": name, "plain": statistics.median(plain), "engine": statistics.median(ours)}
    row["ratio"] = row["engine"] / row["plain"]
    row["ceiling"] = statistics.median(bare) / row["plain"]
    return row


def matmul_peak_gflops(n: int = 2048, repeats: int = 10, device: torch.device | None = None) -> float:
    """fp32 ``mm`` of two n x n matrices: the best of ``repeats`` timings, as GFLOP/s (2 n^3 per product)."""
    device = device or torch.device("cpu")
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def wide_mlp_gflops(width: int, batch: int, steps: int, device: torch.device) -> tuple[float, float]:
    """Achieved GFLOP/s of ``fit`` on a 4-layer MLP of ``width``; also returns GFLOP per step (fwd + bwd)."""
    torch.manual_seed(0)
    n = batch * 8
    x, y = torch.randn(n, width), torch.randint(0, 10, (n,))

    def make():
        return create_model("mlp", depth=4, width=width, input_shape=(width,), num_classes=10)

    probe = make().to(device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(probe(x[:batch].to(device)), y[:batch].to(device)).backward()
    flops_per_step = counter.get_total_flops()
    data = as_dataset(x, y, 10)
    fit(make(), data, steps=3, batch_size=batch, optimizer="sgd", lr=1e-3, quiet=True, device=device.type)
    start = time.perf_counter()
    history = fit(
        make(),
        data,
        steps=steps,
        batch_size=batch,
        optimizer="sgd",
        lr=1e-3,
        quiet=True,
        device=device.type,
        eval_every=10**6,
    )
    seconds = time.perf_counter() - start
    return flops_per_step * history.steps / seconds / 1e9, flops_per_step / 1e9


def mnist1d_like(n: int = 4000) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-1D-shaped random data (N, 1, 40), 10 classes: the speed does not depend on the values."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 40, generator=g), torch.randint(0, 10, (n,), generator=g)


def resnet20_case(device: torch.device, steps: int) -> dict:
    """ResNet-20 on random CIFAR-shaped data; full size on CUDA, toy size on the CPU (code path only)."""
    cuda = device.type == "cuda"
    n, batch = (50_000, 128) if cuda else (64, 16)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    def make():
        return create_model("resnet_cifar", depth=20 if cuda else 8, width=16 if cuda else 4)

    options = dict(amp="bf16", channels_last=True, compile=True, compile_mode="reduce-overhead")
    return compare(
        "resnet20 cifar (bf16, channels_last, cuda graphs)" if cuda else "resnet8 toy (cpu, path only)",
        make,
        x,
        y,
        10,
        steps if cuda else 2,
        batch,
        device,
        repeats=2 if cuda else 1,
        **options,
    )


# --- --cifar: ResNet-20, the naive loop vs fit, on the GPU (toy sizes elsewhere) ----------------------------


class SteadyClock(Callback):
    """Times a ``fit`` run from step ``skip`` to its last step (synchronizing at both ends)."""

    def __init__(self, skip: int, device: torch.device):
        self.skip, self.device = skip, device
        self.start = self.stop = float("nan")

    def on_step(self, state) -> None:
        if state.step == self.skip:
            sync(self.device)
            self.start = time.perf_counter()
        if state.step == state.config.steps:
            sync(self.device)
            self.stop = time.perf_counter()


def naive_cifar(model, images, labels, args, batch: int, device: torch.device) -> float:
    """Steady-state images/s of the loop users write (see the module docstring)."""
    from bench_cifar_pipeline import LR, MOMENTUM, PerSampleCifar

    loader = DataLoader(
        PerSampleCifar(images, labels),
        batch_size=batch,
        shuffle=True,
        num_workers=args.workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    done, total, start = 0, args.skip + args.steps, float("nan")
    while done < total:
        for xb, yb in loader:
            if done == args.skip:
                sync(device)
                start = time.perf_counter()
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()
            done += 1
            if done == total:
                break
    sync(device)
    return args.steps * batch / (time.perf_counter() - start)


def fit_cifar(model, data: Dataset, args, batch: int, device: torch.device, compile_: bool):
    """``fit`` with every fast path: (steady-state images/s, end-to-end images/s, the run's notes)."""
    from bench_cifar_pipeline import LR, MOMENTUM

    clock = SteadyClock(args.skip, device)
    history = fit(
        model,
        data,
        steps=args.skip + args.steps,
        batch_size=batch,
        optimizer="sgd",
        lr=LR,
        momentum=MOMENTUM,
        augment="crop_flip",
        amp="bf16",
        channels_last=True,
        compile=compile_,
        compile_mode=args.compile_mode,
        device=device.type,
        quiet=True,
        eval_every=10**6,
        callbacks=[clock],
    )
    return args.steps * batch / (clock.stop - clock.start), history.samples_per_sec, history.notes


def cifar_rows(args, device: torch.device) -> bool:
    """Every row of the --cifar comparison (printed, and appended to --json as it is measured); False when a
    case failed."""
    from bench_cifar_pipeline import in_memory
    from gpu_table import device_name, emit

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (args.n,), generator=g)
    data = in_memory(images, labels)
    cuda = device.type == "cuda"
    common = dict(step="engine", device=device_name(device))
    name = f"ResNet-{args.depth} CIFAR-shaped"
    ok = True

    def make():
        torch.manual_seed(0)
        return create_model("resnet_cifar", depth=args.depth, width=args.width_cifar)

    for batch in args.batch_sizes:
        naive = float("nan")
        cases = [("naive", None), ("fit_eager", False), ("fit", True)]
        for kind, compile_ in cases:
            row = dict(common, batch=batch, key=f"engine/{kind}/{batch}")
            try:
                if kind == "naive":
                    naive = naive_cifar(make(), images, labels, args, batch, device)
                    row |= dict(
                        case=f"{name}, naive loop (per-sample transforms, {args.workers} workers)",
                        dtype="fp32",
                        memory_format="NCHW",
                        mode="eager",
                        value=naive,
                        unit="img/s",
                    )
                else:
                    steady, end_to_end, notes = fit_cifar(make(), data, args, batch, device, compile_)
                    mode = f"compile {args.compile_mode}" if compile_ else "eager"
                    mode = mode if cuda or not compile_ else f"eager ({mode} is GPU-only)"
                    row |= dict(
                        case=f"{name}, fit (on-device crop+flip)",
                        dtype="bf16" if cuda else "fp32 (bf16 is GPU-only)",
                        memory_format="channels_last" if cuda else "NCHW",
                        mode=mode,
                        value=steady,
                        unit="img/s",
                        ratio=steady / naive,
                        baseline="naive",
                        end_to_end=end_to_end,
                        notes=notes,
                    )
            except Exception as err:  # one failing case is a result; the others still run
                ok = False
                row |= dict(case=f"{name}, {kind}", status=f"failed: {type(err).__name__}: {err}"[:300])
            emit(args.json, **row)
            print(json_line(row), flush=True)
    return ok


def json_line(row: dict) -> str:
    keys = ("key", "dtype", "memory_format", "mode", "value", "ratio", "end_to_end", "status")
    return "  ".join(
        f"{k}={row[k]:.4g}" if isinstance(row.get(k), float) else f"{k}={row.get(k)}" for k in keys
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--cifar", action="store_true", help="ResNet-20 CIFAR: naive loop vs fit (GPU)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512], help="--cifar batches")
    parser.add_argument("--n", type=int, default=49_152, help="--cifar images (a multiple of the batches)")
    parser.add_argument("--depth", type=int, default=20, help="--cifar resnet_cifar depth (6n + 2)")
    parser.add_argument("--width-cifar", type=int, default=16, help="--cifar resnet_cifar width")
    parser.add_argument("--skip", type=int, default=30, help="--cifar steps before the clock starts")
    parser.add_argument("--workers", type=int, default=4, help="--cifar naive loop DataLoader workers")
    parser.add_argument("--compile-mode", default="reduce-overhead", help="--cifar fit compile mode")
    parser.add_argument("--json", help="append every --cifar number to this JSONL file (gpu_table.py)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    if args.cifar:
        print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
        sys.exit(0 if cifar_rows(args, device) else 1)
    x, y = mnist1d_like()
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, fp32, batch 128,"
        f" {args.steps} steps"
    )
    rows = [
        compare(
            "mnist1d mlp (depth 3, width 100)",
            lambda: create_model("mlp", depth=3, width=100),
            x,
            y,
            10,
            args.steps,
            128,
            device,
        ),
        compare("mnist1d cnn1d (default)", lambda: create_model("cnn1d"), x, y, 10, args.steps, 128, device),
        resnet20_case(device, args.steps),
    ]
    print(f"{'case':52s} {'plain samples/s':>16s} {'engine samples/s':>17s} {'ratio':>6s} {'ceiling':>8s}")
    for r in rows:
        print(
            f"{r['case']:52s} {r['plain']:16,.0f} {r['engine']:17,.0f} {r['ratio']:6.2f}x"
            + ("        -" if math.isnan(r["ceiling"]) else f" {r['ceiling']:7.2f}x")
        )
    peak = matmul_peak_gflops(device=device)
    achieved, per_step = wide_mlp_gflops(args.width, 512, 60, device)
    print(
        f"wide MLP (depth 4, width {args.width}, batch 512, SGD): {per_step:.2f} GFLOP/step,"
        f" {achieved:.1f} GFLOP/s"
        f" = {achieved / peak:.0%} of the fp32 matmul peak {peak:.1f} GFLOP/s (mm 2048x2048, best of 10)"
    )


if __name__ == "__main__":
    main()
