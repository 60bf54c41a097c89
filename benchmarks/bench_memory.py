"""Memory of one training step vs depth, with and without per-block activation checkpointing.

Models: a pre-activation residual MLP with BatchNorm (depth 10/100/1000) and the CIFAR ResNets of He et al.
2016 (arXiv 1512.03385; depth 20/56/110/1202, width 16, 32x32 inputs). Checkpointing
(``model.set_grad_checkpointing(True)``, what ``fit(grad_checkpointing=True)`` turns on) keeps each block's
input and recomputes the block's inside in backward (Chen et al. 2016, arXiv 1604.06174).

"Step memory" is what one step (forward, cross-entropy, backward; gradients start as None) needs on top of
the resident model and data:

- CUDA: ``torch.cuda.max_memory_allocated`` over the step minus ``memory_allocated`` before it.
- CPU, ``kept``: every tensor kept between forward and backward (saved tensors and block inputs, unique
  storages, parameters excluded), counted by ``saved_tensors_hooks``: the activation memory, exact and
  deterministic, without workspaces, gradients (allocated while activations are freed) or the transient
  recompute of one block.
- CPU, ``rss``: the peak resident memory of a fresh process over one step minus its resident memory before it
  (Linux: ``/proc/self/clear_refs`` resets the peak; glibc's mmap threshold is fixed at 64 KiB in that process
  so freed buffers go back to the system), after a warm-up step on two samples. Timings run in the main
  process with the default allocator.

Step time: median of ``--repeats`` steps after one warm-up; the ratio is checkpointed / plain.

    python benchmarks/bench_memory.py [--device auto] [--repeats 3] [--threads N] [--resnet-batch 8]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from depthlab.diagnose.cost import kept_for_backward
from depthlab.models import create_model

MB = 2**20
MLP_DEPTHS, RESNET_DEPTHS = (10, 100, 1000), (20, 56, 110, 1202)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_step(model, x: torch.Tensor, y: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def kept_bytes(model, x: torch.Tensor) -> int:
    """Tensors kept for backward (saved tensors and block inputs, unique storages; parameters excluded)."""
    return kept_for_backward(model, x, block_inputs=model.blocks)


def _proc_status(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+) kB", f.read()).group(1)) * 1024


def rss_step_bytes(model, x: torch.Tensor, y: torch.Tensor) -> int | None:
    """Peak resident memory over one step minus the resident memory before it (Linux only)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak (VmHWM) to the current resident size
    except OSError:
        return None
    before = _proc_status("VmRSS")
    train_step(model, x, y)
    return _proc_status("VmHWM") - before


def rss_in_child(index: int, enable: bool, resnet_batch: int) -> float | None:
    """``rss_step_bytes`` of case ``index`` in a fresh process with glibc's mmap threshold fixed at 64 KiB
    (freed buffers go back to the system, so the peak is the step's own)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}
    args = [sys.executable, __file__, "--rss-of", str(index), "--resnet-batch", str(resnet_batch)]
    done = subprocess.run(args + (["--ckpt"] if enable else []), env=env, capture_output=True, text=True)
    text = done.stdout.strip()
    return float(text) if done.returncode == 0 and text != "None" else None


def cuda_step_bytes(model, x: torch.Tensor, y: torch.Tensor) -> int:
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    train_step(model, x, y)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def step_time(model, x, y, device: torch.device, repeats: int) -> float:
    train_step(model, x, y)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        train_step(model, x, y)
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def case_specs(resnet_batch: int) -> list[tuple[str, Callable, tuple[int, ...]]]:
    """(label, model factory, batch shape) of every case, in order."""
    specs = []
    for depth in MLP_DEPTHS:
        make = partial(create_model, "mlp", depth=depth, width=256, norm="batch", residual=True, preact=True)
        specs.append((f"mlp depth {depth} (width 256, batch 256)", make, (256, 1, 40)))
    for depth in RESNET_DEPTHS:
        make = partial(create_model, "resnet_cifar", depth=depth)
        specs.append((f"resnet_cifar depth {depth} (batch {resnet_batch})", make, (resnet_batch, 3, 32, 32)))
    return specs


def build(spec, device: torch.device):
    _, make, shape = spec
    torch.manual_seed(0)
    model = make().to(device).train()
    x, y = torch.randn(shape, device=device), torch.randint(0, 10, (shape[0],), device=device)
    return model, x, y


def measure_case(index: int, spec, device: torch.device, args) -> dict:
    """Plain and checkpointed measurements of one model on one batch."""
    model, x, y = build(spec, device)
    row = {"case": spec[0]}
    for label, enable in (("plain", False), ("ckpt", True)):
        model.set_grad_checkpointing(enable)
        result = {"time": step_time(model, x, y, device, args.repeats)}
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            result["cuda"] = cuda_step_bytes(model, x, y) / MB
        else:
            result["kept"] = kept_bytes(model, x) / MB
            rss = rss_in_child(index, enable, args.resnet_batch)
            result["rss"] = None if rss is None else rss / MB
        row[label] = result
    return row


def print_row(row: dict, cuda: bool) -> None:
    p, c = row["plain"], row["ckpt"]
    cells = []
    for key in ("cuda",) if cuda else ("kept", "rss"):
        if p[key] is None or c[key] is None:
            cells.append(f"{'n/a':>25s}")
            continue
        cells.append(f"{p[key]:9.1f} {c[key]:9.1f} {p[key] / max(c[key], 1e-9):5.1f}x")
    print(f"{row['case']:38s} {' | '.join(cells)} | {c['time'] / p['time']:5.2f}x  {p['time']:.3f}s")


def child_main(args) -> None:
    """Print the peak-RSS step bytes of one case (run by ``rss_in_child``)."""
    model, x, y = build(case_specs(args.resnet_batch)[args.rss_of], torch.device("cpu"))
    model.set_grad_checkpointing(args.ckpt)
    train_step(model, x[:2], y[:2])  # one-time allocations (lazy imports, kernel set-up) are not the step's
    model.zero_grad(set_to_none=True)
    print(rss_step_bytes(model, x, y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--resnet-batch", type=int, default=8)
    parser.add_argument("--rss-of", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.rss_of is not None:
        return child_main(args)
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, fp32")
    columns = "cuda MB: plain ckpt saving"
    if not cuda:
        columns = "kept MB: plain ckpt saving | rss MB: plain ckpt saving"
    print(f"{'case':38s} {columns} | time ckpt/plain, plain step")
    for index, spec in enumerate(case_specs(args.resnet_batch)):
        print_row(measure_case(index, spec, device, args), cuda)


if __name__ == "__main__":
    main()
