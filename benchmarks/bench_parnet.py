"""ParNet inference speed: train vs deploy form vs ResNets, and stream-parallel vs sequential, one process.

CPU (default): batch-1 latency at 224 of ParNet-S train form, ParNet-S deploy form and ResNet-34 (plus
ResNet-50 with ``--resnet50``), with params, FLOPs (FlopCounterMode) and the longest-path depth measured by
``depthlab.diagnose``; the timings are interleaved round by round so machine noise hits every model alike.
Then ``ParallelParNet`` (threads) vs the sequential deploy form.

GPU (``--device cuda``): ParNet-S train and deploy form, each sequential and CUDA-stream-parallel, vs
ResNet-34 and ResNet-50, at batch 1 (fp32, NCHW) and ``--big-batch`` (bf16, channels_last; both layouts at
both batches with ``--all-layouts``), in three modes: eager, CUDA graphs (the eager kernels captured in one
``torch.cuda.CUDAGraph``) and ``torch.compile`` (default mode; plain models only: the stream-parallel wrapper
issues its streams by hand). Every fast path's output is checked against eager before it is timed. Eager and
graph rows come first; compiled ones (slow to start) only while ``--budget`` seconds are not spent.
``--json FILE`` appends every row for ``gpu_table.py`` as it is measured. ``--device cpu --gpu-suite --tiny``
runs that suite's code path on the CPU at toy sizes (rows that need CUDA are reported as skipped).

    python benchmarks/bench_parnet.py [--device cpu|cuda] [--repeats 20] [--warmup 10] [--threads N]
    python benchmarks/bench_parnet.py --device cuda [--modes eager graph compile] [--budget 240] [--json F]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from depthlab.diagnose.cost import count_flops, count_params
from depthlab.diagnose.depth import longest_path_depth
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


def graph_runner(model: nn.Module, x: torch.Tensor, device: torch.device) -> tuple[Callable, torch.Tensor]:
    """``model(x)`` captured in a ``torch.cuda.CUDAGraph``: (replay, the graph's static output).

    Capture rules kept here: warm up on a side stream first (cuDNN autotuning, lazy initialization and the
    allocator's first blocks happen outside the capture), no host sync inside it, and the input tensor stays
    the same one (a graph replays fixed addresses). The CUDA-stream-parallel model forks its streams from the
    capturing stream and joins them back, so the captured graph has three concurrent branches.
    """
    static_x = x.clone()
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            model(static_x)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = model(static_x)
    return graph.replay, static_out


def same_output(got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype) -> bool:
    """Equal up to the kernels' rounding: a fast path that computes something else is a failure, not a row."""
    tolerance = 5e-2 if dtype == torch.bfloat16 else 1e-3
    scale = want.float().abs().max().clamp_min(1e-6)
    return bool((got.float() - want.float()).abs().max() <= tolerance * scale)


MODES = ("eager", "graph", "compile")


def runner(mode: str, model: nn.Module, x: torch.Tensor, device: torch.device) -> Callable[[], object]:
    """A zero-argument callable running ``model`` on ``x`` in ``mode``, checked against eager first."""
    want = model(x)
    if mode == "eager":
        return lambda: model(x)
    if mode == "graph":
        replay, out = graph_runner(model, x, device)
        replay()
        fn = replay
    else:  # torch.compile's default mode (Inductor kernels, no CUDA graphs)
        compiled = torch.compile(model)
        out = compiled(x)
        fn = lambda: compiled(x)  # noqa: E731
    sync(device)
    if not same_output(out, want, x.dtype):
        raise AssertionError(f"{mode} output differs from eager")
    return fn


def layouts(batch: int, args: argparse.Namespace) -> list[tuple[str, torch.dtype, torch.memory_format]]:
    """fp32 NCHW at batch 1 and bf16 channels_last at the big batch (the anchors' columns); both with
    ``--all-layouts``."""
    fp32 = ("fp32", torch.float32, torch.contiguous_format)
    bf16 = ("bf16", torch.bfloat16, torch.channels_last)
    if args.all_layouts:
        return [fp32, bf16]
    return [fp32] if batch == 1 else [bf16]


def gpu_models(args: argparse.Namespace, device: torch.device) -> dict[str, nn.Module]:
    """The models of the GPU table, eval mode; the stream-parallel ones wrap the same modules."""
    train, deploy = parnet_forms(args.s_width, args.resolution, device, args.tiny)
    mode = "cuda_streams" if device.type == "cuda" else "threads"
    return {
        "ParNet-S train form": train,
        "ParNet-S deploy form": deploy,
        f"ParNet-S train form, {mode}": ParallelParNet(train, mode=mode),
        f"ParNet-S deploy form, {mode}": ParallelParNet(deploy, mode=mode),
        "ResNet-34": resnet("resnet34", device, args.tiny),
        "ResNet-50": resnet("resnet50", device, args.tiny),
    }


def case_row(name: str, batch: int, layout: tuple, mode: str, args, device: torch.device) -> dict:
    """The fields that say what a row measured (spec/performance.md's list)."""
    from gpu_table import device_name

    return dict(
        step="parnet",
        case=name,
        device=device_name(device),
        dtype=layout[0],
        memory_format="channels_last" if layout[2] == torch.channels_last else "NCHW",
        batch=batch,
        mode=mode,
        resolution=args.resolution,
    )


def measure_case(name, model, batch, layout, mode, args, device) -> dict:
    """One row: ms per batch of ``model`` at ``batch`` in ``layout`` and ``mode`` (or why there is none)."""
    _, dtype, fmt = layout
    row = case_row(name, batch, layout, mode, args, device)
    if mode != "eager" and device.type != "cuda":
        return row | {"status": "skipped (GPU-only)"}
    target = model.model if isinstance(model, ParallelParNet) else model
    target.to(dtype=dtype, memory_format=fmt)
    x = torch.randn(batch, 3, args.resolution, args.resolution, device=device).to(
        dtype=dtype, memory_format=fmt
    )
    try:
        with torch.inference_mode():
            fn = runner(mode, model, x, device)
            seconds = interleaved_medians({name: fn}, device, args.repeats, args.warmup)[name]
        row |= {"value": seconds * 1e3, "unit": "ms", "img_per_s": batch / seconds}
    except Exception as err:  # a failing configuration is a result, not a crash
        row |= {"status": f"failed: {type(err).__name__}: {err}"[:300]}
    finally:
        target.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if device.type == "cuda":
            torch.cuda.empty_cache()  # a graph's private memory pool goes with it
    return row


def ratio_rows(rows: list[dict], device: torch.device) -> list[dict]:
    """Each row against ResNet-34 in the same batch, layout and mode; and the two target comparisons."""
    by = {(r["case"], r["batch"], r["dtype"], r["mode"]): r for r in rows if "value" in r}
    streams = next((r["case"] for r in rows if r["case"].startswith("ParNet-S deploy form, ")), None)
    for r in rows:
        base = by.get(("ResNet-34", r["batch"], r["dtype"], r["mode"]))
        if "value" in r and base and r["case"] != "ResNet-34":
            r |= {"ratio": r["value"] / base["value"], "baseline": "ResNet-34 time"}
    derived = []
    pairs = [
        ("streams_vs_resnet34", streams, "ResNet-34", "ResNet-34 time"),
        ("deploy_vs_train", "ParNet-S deploy form", "ParNet-S train form", "train form time"),
        ("streams_vs_sequential", streams, "ParNet-S deploy form", "sequential time"),
    ]
    for key, case, base_case, baseline in pairs:
        for mode in MODES:
            for batch in sorted({r["batch"] for r in rows}):
                for dtype in ("fp32", "bf16"):
                    a, b = by.get((case, batch, dtype, mode)), by.get((base_case, batch, dtype, mode))
                    if a and b:
                        derived.append(
                            a
                            | {
                                "case": f"{case} vs {base_case}",
                                "ratio": a["value"] / b["value"],
                                "baseline": baseline,
                                "key": f"parnet/{key}/{mode}/{batch}" + ("" if dtype == "fp32" else "/bf16"),
                            }
                        )
    return derived


COMPILE_ORDER = (
    "ParNet-S deploy form",
    "ResNet-34",
    "ParNet-S train form",
    "ResNet-50",
)  # most telling first


def gpu_plan(models: dict[str, nn.Module], args: argparse.Namespace) -> list[list[tuple]]:
    """The cases in two phases: eager and graph (cheap), then torch.compile (slow to start; plain models)."""
    cheap = [
        (name, batch, layout, mode)
        for batch in (1, args.big_batch)
        for layout in layouts(batch, args)
        for name in models
        for mode in ("eager", "graph")
        if mode in args.modes
    ]
    compiled = [
        (name, batch, layout, "compile")
        for batch in (1, args.big_batch)
        for layout in layouts(batch, args)
        for name in COMPILE_ORDER
        if "compile" in args.modes
    ]
    return [cheap, compiled]


def gpu_suite(args: argparse.Namespace, device: torch.device) -> None:
    """The GPU table (see the module docstring); at toy sizes when ``--tiny``. Eager and graph rows first,
    with their comparisons, then the compiled ones, each started only while ``--budget`` seconds are not
    spent (rows are written as they come: a run cut short keeps them)."""
    from gpu_table import emit

    torch.backends.cudnn.benchmark = True  # as fit sets it; the warm-up runs absorb the autotuning
    models = gpu_models(args, device)
    started, rows = time.perf_counter(), []
    for phase in gpu_plan(models, args):
        measured = []
        for name, batch, layout, mode in phase:
            if time.perf_counter() - started > args.budget:
                row = case_row(name, batch, layout, mode, args, device)
                row["status"] = f"skipped (over the {args.budget:.0f} s budget)"
            else:
                row = measure_case(name, models[name], batch, layout, mode, args, device)
            measured.append(row)
            emit(args.json, **row)
            print(row, flush=True)
        for row in ratio_rows(measured, device):
            emit(args.json, **row)
        rows += measured
    shown = ("case", "batch", "dtype", "mode", "value", "ratio", "status")
    printable = [{k: r.get(k, "") for k in shown} for r in rows]
    print_table(f"{device}, {args.resolution}x{args.resolution}, inference ms per batch", printable)


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
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="GPU suite modes")
    parser.add_argument("--all-layouts", action="store_true", help="GPU suite: fp32 and bf16 at both batches")
    parser.add_argument(
        "--budget", type=float, default=240.0, help="GPU suite: seconds before cases are skipped"
    )
    parser.add_argument("--json", help="GPU suite: append every number to this JSONL file (gpu_table.py)")
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
