"""The in-memory CIFAR-shaped pipeline (``fit(augment="crop_flip")``) vs the plain PyTorch loop a user writes.

Data: random uint8 images of CIFAR shape (N, 3, 32, 32), 10 classes (the speed does not depend on the values).
Both sides train the same ResNet (``resnet_cifar``, He et al. 2016, arXiv 1512.03385) for the same number of
steps with the same optimizer (SGD, momentum 0.9) and the same augmentation (pad 4, random 32x32 crop,
random horizontal flip), in one process:

- plain: a ``torch.utils.data.Dataset`` whose ``__getitem__`` turns one uint8 image into a normalized float
  tensor, pads, crops and flips it; ``DataLoader(batch_size=128, shuffle=True, num_workers=0 or 2)``;
  ``zero_grad``, forward, ``backward``, ``step``, ``loss.item()`` for the log.
- depthlab: the data normalized once into float32 tensors held in memory (on the device), ``fit`` with
  ``augment="crop_flip"`` (one batched crop + flip per batch, ``depthlab.data.augment``).

Samples/s: training steps only (``fit``'s evaluations are excluded from its samples/s); median of
``--repeats`` runs after one warm-up run of each. On CUDA, ``--amp bf16`` and ``--channels-last`` apply to
both sides (on the CPU both sides ignore them, as ``fit`` does); ``--compile`` compiles ``fit``'s model
(``reduce-overhead``: CUDA graphs; its compilation counts in the first, warm-up, run). The GPU check's
comparison (steady-state timing, batch 128 and 512) is ``bench_engine.py --cifar``.

    python benchmarks/bench_cifar_pipeline.py [--n 4000] [--steps 40] [--depth 8] [--repeats 3]
        [--device auto] [--amp off|bf16] [--channels-last] [--compile] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from depthlab.data.dataset import Dataset
from depthlab.models import create_model
from depthlab.train import fit

LR, MOMENTUM = 0.05, 0.9
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # per channel, training set


class PerSampleCifar(torch.utils.data.Dataset):
    """The user's Dataset: one image at a time, uint8 -> normalized float, pad 4, random crop, random flip."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, padding: int = 4):
        self.images, self.labels, self.padding = images, labels, padding
        self.mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.padding
        image = (self.images[i].float() / 255 - self.mean) / self.std
        padded = F.pad(image, (p, p, p, p))
        dy, dx = torch.randint(0, 2 * p + 1, (2,)).tolist()
        crop = padded[:, dy : dy + 32, dx : dx + 32]
        if torch.rand(()) < 0.5:
            crop = crop.flip(-1)
        return crop, self.labels[i]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(model, images, labels, args, device: torch.device, workers: int) -> float:
    """Samples/s of the user's loop over ``args.steps`` steps (worker start-up included: a user pays it)."""
    loader = DataLoader(
        PerSampleCifar(images, labels),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
    )
    cuda = device.type == "cuda"  # fit applies channels_last and bf16 on CUDA only; so does this loop
    memory_format = torch.channels_last if args.channels_last and cuda else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    bf16 = args.amp == "bf16" and cuda
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    done, logged = 0, 0.0
    sync(device)
    start = time.perf_counter()
    while done < args.steps:
        for xb, yb in loader:
            xb = xb.to(device, non_blocking=True, memory_format=memory_format)
            yb = yb.to(device, non_blocking=True)
            opt.zero_grad()
            with autocast:
                loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            logged += loss.item()
            done += 1
            if done == args.steps:
                break
    sync(device)
    return done * args.batch_size / (time.perf_counter() - start)


def engine(model, data: Dataset, args, device: torch.device) -> float:
    """Samples/s of ``fit`` with the batched on-device crop + flip."""
    history = fit(
        model,
        data,
        steps=args.steps,
        batch_size=args.batch_size,
        optimizer="sgd",
        lr=LR,
        momentum=MOMENTUM,
        augment="crop_flip",
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        compile_mode="reduce-overhead",
        device=device.type,
        quiet=True,
        eval_every=10**6,
    )
    return history.samples_per_sec


def in_memory(images: torch.Tensor, labels: torch.Tensor) -> Dataset:
    """The images normalized once into float32, as depthlab's loaders hold them."""
    mean, std = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    x = (images.float() / 255 - mean) / std
    return Dataset("cifar-shaped", x, labels, x[:256], labels[:256], x[:256], labels[:256], num_classes=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--depth", type=int, default=8, help="resnet_cifar depth (6n + 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--amp", default="off", choices=["off", "bf16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="fit: torch.compile reduce-overhead (CUDA)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (args.n,), generator=g)
    data = in_memory(images, labels)
    runs = {f"plain, DataLoader num_workers={w}": (plain_loop, w) for w in args.workers}
    speeds: dict[str, list[float]] = {"depthlab fit(augment=crop_flip)": [], **{k: [] for k in runs}}
    for i in range(args.repeats + 1):  # run 0 warms up caches, allocators and worker start-up paths
        for label in speeds:
            torch.manual_seed(i)
            model = create_model("resnet_cifar", depth=args.depth)
            if label in runs:
                speed = plain_loop(model, images, labels, args, device, runs[label][1])
            else:
                speed = engine(model, data, args, device)
            if i:
                speeds[label].append(speed)
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, amp {args.amp},"
        f" channels_last {args.channels_last}; resnet_cifar depth {args.depth}, N={args.n}, batch"
        f" {args.batch_size}, {args.steps} steps, median of {args.repeats}"
    )
    ours = statistics.median(speeds.pop("depthlab fit(augment=crop_flip)"))
    print(f"{'pipeline':40s} {'samples/s':>10s} {'depthlab / this':>16s}")
    print(f"{'depthlab fit(augment=crop_flip)':40s} {ours:10,.0f} {'':>16s}")
    for label, values in speeds.items():
        print(f"{label:40s} {statistics.median(values):10,.0f} {ours / statistics.median(values):15.2f}x")


if __name__ == "__main__":
    main()
