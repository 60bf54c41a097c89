"""Batches as index slices of a seeded permutation of tensors already on the device (no DataLoader).

The permutation of epoch ``e`` depends only on ``(seed, e)``, so a resumed run sees the same batches, and every
distributed rank computes the same permutation and takes its own slice of each global batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


def steps_per_epoch(num_samples: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch; with several ranks the last partial global batch is dropped so ranks stay in step."""
    if world_size == 1:
        return math.ceil(num_samples / batch_size)
    return max(1, num_samples // (batch_size * world_size))


def epoch_permutation(num_samples: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The sample order of ``epoch`` (0-based): a function of the seed and the epoch only."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_samples, generator=generator).to(device)


def batch_indices(order: torch.Tensor, index: int, batch_size: int, rank: int = 0,
                  world_size: int = 1) -> torch.Tensor:
    """This rank's share of global batch ``index``: rank r takes the r-th ``batch_size`` slice."""
    start = index * batch_size * world_size + rank * batch_size
    return order[start:start + batch_size]


def epoch_batches(x: torch.Tensor, y: torch.Tensor, order: torch.Tensor, batch_size: int, first: int = 0,
                  rank: int = 0, world_size: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` batches of one epoch, starting at batch ``first`` (for a resume within an epoch)."""
    for index in range(first, steps_per_epoch(len(x), batch_size, world_size)):
        idx = batch_indices(order, index, batch_size, rank, world_size)
        yield x[idx], y[idx]
