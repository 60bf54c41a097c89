"""Batched on-device crop + flip (depthlab.data.augment) vs the per-sample Python loop a user would write.

Both turn CIFAR-shaped uint8 images (N, 3, 32, 32) into float crops (padding 4) with random horizontal flips.
The baseline is the usual Dataset.__getitem__ transform: pad, draw two offsets, slice, maybe flip, one image
at a time. Both run in this process on the same data; the ratio is what to read (absolute times vary by
machine). ``--threads`` defaults to 1: on a shared, oversubscribed CPU, multi-threaded kernels stall waiting
for their thread team while the loop's tiny per-image ops never go parallel, so one thread is the fair
setting.

    python benchmarks/bench_data.py [--device cuda] [--n 10000] [--batch-size 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from depthlab.data.augment import AugmentOptions, augment, device_generator


def per_sample_loop(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """The baseline: one image at a time, as in a torchvision-style Dataset transform."""
    out = []
    for image in images:  # (3, 32, 32) uint8
        padded = F.pad(image.float() / 255, (padding,) * 4)
        dy, dx = torch.randint(0, 2 * padding + 1, (2,), generator=generator).tolist()
        crop = padded[:, dy : dy + 32, dx : dx + 32]
        if torch.rand(1, generator=generator).item() < 0.5:
            crop = crop.flip(-1)
        out.append(crop)
    return torch.stack(out)


def batched(images: torch.Tensor, generator: torch.Generator, batch_size: int) -> torch.Tensor:
    """depthlab's path: whole batches on the device, one call per batch."""
    options = AugmentOptions(crop_padding=4, flip=True)
    return torch.cat(
        [augment(images[i : i + batch_size], options, generator) for i in range(0, len(images), batch_size)]
    )


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after a warm-up call, synchronizing around each on CUDA."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (see the module docstring)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    seeded = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=seeded)
    on_device = images.to(device)
    loop_gen, batch_gen = torch.Generator().manual_seed(0), device_generator(0, device)
    # the loop runs on the CPU as a DataLoader worker would; its result would then be copied to the device
    loop_s = timed(lambda: per_sample_loop(images, loop_gen), torch.device("cpu"), args.repeats)
    batch_s = timed(lambda: batched(on_device, batch_gen, args.batch_size), device, args.repeats)
    print(
        f"torch {torch.__version__}, device {device}, {args.threads} CPU thread(s), uint8 (N, 3, 32, 32) "
        f"-> float32, N={args.n}, batch {args.batch_size}, crop padding 4 + flip, median of {args.repeats}"
    )
    print(f"{'method':<32}{'samples/s':>14}")
    print(f"{'per-sample Python loop (CPU)':<32}{args.n / loop_s:>14,.0f}")
    print(f"{'batched on device':<32}{args.n / batch_s:>14,.0f}")
    print(f"ratio batched / loop: {loop_s / batch_s:.1f}x")


if __name__ == "__main__":
    main()
