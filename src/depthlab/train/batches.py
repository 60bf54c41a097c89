"""Batches as index slices of a seeded permutation of tensors already on the device (no DataLoader).

The permutation of epoch ``e`` depends only on ``(seed, e)``, so a resumed run sees the same batches, and
every distributed rank computes the same permutation and takes its own slice of each global batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from depthlab.seeds import Stream, generator


def steps_per_epoch(num_samples: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch; with several ranks the last partial global batch is dropped (ranks stay in step).

    A single leftover sample joins the batch before it: BatchNorm cannot train on a batch of one.
    """
    if world_size > 1:
        return max(1, num_samples // (batch_size * world_size))
    if num_samples % batch_size == 1 and num_samples > batch_size:
        return num_samples // batch_size
    return math.ceil(num_samples / batch_size)


def epoch_permutation(num_samples: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The sample order of ``epoch`` (0-based): a function of the seed and the epoch only."""
    return torch.randperm(num_samples, generator=generator(seed, Stream.EPOCH_ORDER, epoch)).to(device)


def epoch_batches(
    x: torch.Tensor,
    y: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
    first: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` batches of one epoch, starting at batch ``first`` (for a resume within an epoch).

    The epoch's data are gathered in permuted order once (one large copy), so each batch is a contiguous view:
    no per-step gather kernels.
    """
    x, y = x[order], y[order]
    steps = steps_per_epoch(len(x), batch_size, world_size)
    for index in range(first, steps):
        start = index * batch_size * world_size + rank * batch_size
        stop = len(x) if world_size == 1 and index == steps - 1 else start + batch_size
        yield x[start:stop], y[start:stop]
