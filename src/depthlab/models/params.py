"""Parameter counting, the one implementation (measure, the deploy conversion and the studies use it)."""

from __future__ import annotations

from torch import nn


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; shared parameters count once."""
    params = list(model.parameters())  # .parameters() already de-duplicates shared tensors
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
