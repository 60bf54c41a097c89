"""Batches as index slices of a seeded permutation of tensors already on the device (no DataLoader).

The permutation of epoch ``e`` depends only on ``(seed, e)``, so a resumed run sees the same batches, and
every distributed rank computes the same permutation and takes its own slice of each global batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


def steps_per_epoch(num_samples: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch; with several ranks the last partial global batch is dropped (ranks stay in step)."""
    if world_size == 1:
        return math.ceil(num_samples / batch_size)
    return max(1, num_samples // (batch_size * world_size))


def epoch_permutation(num_samples: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The sample order of ``epoch`` (0-based): a function of the seed and the epoch only."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_samples, generator=generator).to(device)


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
    for index in range(first, steps_per_epoch(len(x), batch_size, world_size)):
        start = index * batch_size * world_size + rank * batch_size
        yield x[start : start + batch_size], y[start : start + batch_size]
