"""ParNet inference speed: train vs deploy form vs ResNets, and stream-parallel vs sequential, one process.

CPU (default): batch-1 latency at 224 of ParNet-S train form, ParNet-S deploy form and ResNet-34 (plus
ResNet-50 with ``--resnet50``), with params, FLOPs (FlopCounterMode) and the longest-path depth measured by
``depthlab.diagnose``; the timings are interleaved round by round so machine noise hits every model alike.
Then ``ParallelParNet`` (threads) vs the sequential deploy form.

GPU (``--device cuda``): batch 1 and ``--big-batch``, fp32 NCHW and bf16 channels_last, eager and CUDA graphs
(``torch.compile(mode="reduce-overhead")`` for the plain models, a captured ``torch.cuda.CUDAGraph`` for the
CUDA-stream-parallel one), CUDA streams vs sequential. ``--device cpu --gpu-suite --tiny`` runs that suite's
code path on the CPU at toy sizes (rows that need CUDA are reported as skipped).

    python benchmarks/bench_parnet.py [--device cpu|cuda] [--repeats 20] [--warmup 10] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from depthlab.diagnose.depth import longest_path_depth
from depthlab.diagnose.measure import count_flops, count_params
from depthlab.models import create_model
from depthlab.models.parallel import ParallelParNet
from depthlab.models.reparam import randomize_batchnorm, reparameterize_model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], device: torch.device, repeats: int, warmup: int
) -> dict[str, float]:
    """Median seconds per call of each fn, timed in alternating rounds after ``warmup`` calls of each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def parnet_forms(
    width: int, resolution: int, device: torch.device, tiny: bool
) -> tuple[nn.Module, nn.Module]:
    """ParNet-S (or a tiny stand-in) in train form and deploy form, eval mode, BN statistics randomized."""
    tiny_widths = dict(width=8, stream2_width=16, stream3_width=32, final_width=64)
    overrides = tiny_widths if tiny else dict(width=width)
    model = create_model("parnet_s", input_shape=(3, resolution, resolution), **overrides)
    randomize_batchnorm(model)
    model = model.eval().to(device)
    return model, reparameterize_model(model)


def resnet(name: str, device: torch.device, tiny: bool) -> nn.Module:
    return create_model(name, **({"width": 8} if tiny else {})).eval().to(device)


def static_row(model: nn.Module, x: torch.Tensor, form: str) -> dict:
    """Params (M), GFLOPs per image, longest-path depth (of the form as given)."""
    depth = longest_path_depth(model, x, form="train").depth  # the model is already in its form
    return {
        "params_M": count_params(model)[0] / 1e6,
        "gflops": count_flops(model, x) / len(x) / 1e9,
        "depth": depth,
        "form": form,
    }


def print_table(title: str, rows: list[dict]) -> None:
    """A Markdown table (the format BENCHMARKS.md keeps)."""
    print(f"\n### {title}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")


def cpu_suite(args: argparse.Namespace, device: torch.device) -> None:
    """Train vs deploy form vs ResNet at batch 1, then stream-parallel vs sequential."""
    train, deploy = parnet_forms(args.s_width, args.resolution, device, args.tiny)
    models = {
        "ParNet-S train form": (train, "train"),
        "ParNet-S deploy form": (deploy, "deploy"),
        "ResNet-34": (resnet("resnet34", device, args.tiny), "-"),
    }
    if args.resnet50:
        models["ResNet-50"] = (resnet("resnet50", device, args.tiny), "-")
    x = torch.randn(1, 3, args.resolution, args.resolution, device=device)
    if args.channels_last:
        x = x.to(memory_format=torch.channels_last)
        for model, _ in models.values():
            model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        latency = interleaved_medians(
            {n: (lambda m=m: m(x)) for n, (m, _) in models.items()}, device, args.repeats, args.warmup
        )
    base = latency["ParNet-S train form"]
    rows = [
        {
            "model": n,
            **static_row(m, x, form),
            "latency_ms": latency[n] * 1e3,
            "vs_parnet_train": latency[n] / base,
        }
        for n, (m, form) in models.items()
    ]
    layout = "channels_last" if args.channels_last else "NCHW"
    print_table(f"batch 1, {args.resolution}x{args.resolution}, fp32, {layout}, {device}", rows)
    parallel_rows(deploy, train, x, device, args, mode="threads")


def parallel_rows(
    deploy: nn.Module,
    train: nn.Module,
    x: torch.Tensor,
    device: torch.device,
    args: argparse.Namespace,
    mode: str,
) -> None:
    """Stream-parallel vs sequential, for both forms."""
    runs = {}
    for form, model in (("deploy", deploy), ("train", train)):
        runs[f"{form}, sequential"] = model
        runs[f"{form}, {mode}"] = ParallelParNet(model, mode=mode)
    with torch.inference_mode():
        latency = interleaved_medians(
            {n: (lambda m=m: m(x)) for n, m in runs.items()}, device, args.repeats, args.warmup
        )
    rows = [
        {"run": n, "latency_ms": t * 1e3, "vs_sequential": t / latency[n.split(",")[0] + ", sequential"]}
        for n, t in latency.items()
    ]
    print_table(f"ParNet-S stream-parallel ({mode}) vs sequential, batch {len(x)}", rows)


def compiled(model: nn.Module, x: torch.Tensor, device: torch.device) -> Callable[[], object]:
    """A CUDA-graph runner: torch.compile(reduce-overhead) for plain models, a captured graph otherwise."""
    if isinstance(model, ParallelParNet):
        graph, static_x = torch.cuda.CUDAGraph(), x.clone()
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):
                model(static_x)
        torch.cuda.current_stream(device).wait_stream(side)
        with torch.cuda.graph(graph):
            model(static_x)
        return graph.replay
    fn = torch.compile(model, mode="reduce-overhead")
    return lambda: fn(x)


def gpu_rows(name: str, model: nn.Module, batch: int, args: argparse.Namespace, device: torch.device) -> dict:
    """One model at one batch: eager and CUDA-graph throughput, fp32 NCHW and bf16 channels_last."""
    row: dict = {"model": name, "batch": batch}
    x = torch.randn(batch, 3, args.resolution, args.resolution, device=device)
    for label, dtype, fmt in (
        ("fp32", torch.float32, torch.contiguous_format),
        ("bf16_cl", torch.bfloat16, torch.channels_last),
    ):
        target = model.model if isinstance(model, ParallelParNet) else model
        target.to(dtype=dtype, memory_format=fmt)
        xi = x.to(dtype=dtype, memory_format=fmt)
        for runner in ("eager", "graph"):
            key = f"{label}_{runner}_ms"
            if runner == "graph" and device.type != "cuda":
                row[key] = "skipped (CPU)"
                continue
            try:
                with torch.inference_mode():
                    fn = (lambda m=model, v=xi: m(v)) if runner == "eager" else compiled(model, xi, device)
                    row[key] = interleaved_medians({name: fn}, device, args.repeats, args.warmup)[name] * 1e3
            except Exception as err:  # a failing configuration is a result, not a crash
                row[key] = f"failed: {type(err).__name__}"
        target.to(dtype=torch.float32, memory_format=torch.contiguous_format)
    return row


def gpu_suite(args: argparse.Namespace, device: torch.device) -> None:
    """The GPU table (see the module docstring); at toy sizes when ``--tiny``."""
    train, deploy = parnet_forms(args.s_width, args.resolution, device, args.tiny)
    mode = "cuda_streams" if device.type == "cuda" else "threads"
    models = {
        "ParNet-S train form": train,
        "ParNet-S deploy form": deploy,
        f"ParNet-S deploy, {mode}": ParallelParNet(deploy, mode=mode),
        "ResNet-34": resnet("resnet34", device, args.tiny),
        "ResNet-50": resnet("resnet50", device, args.tiny),
    }
    rows = [
        gpu_rows(name, m, batch, args, device) for batch in (1, args.big_batch) for name, m in models.items()
    ]
    print_table(f"{device}, {args.resolution}x{args.resolution}, inference ms per batch", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--s-width", type=int, default=92, help="ParNet-S stream-1 width (official 92)")
    parser.add_argument("--big-batch", type=int, default=256)
    parser.add_argument("--resnet50", action="store_true")
    parser.add_argument("--gpu-suite", action="store_true", help="the GPU table (implied by --device cuda)")
    parser.add_argument("--tiny", action="store_true", help="toy widths, to exercise the code paths")
    parser.add_argument("--channels-last", action="store_true", help="CPU table in channels_last")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, intra-op threads {torch.get_num_threads()}")
    if device.type == "cuda" or args.gpu_suite:
        gpu_suite(args, device)
    else:
        cpu_suite(args, device)


if __name__ == "__main__":
    main()
