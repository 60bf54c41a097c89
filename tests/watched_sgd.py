"""A few plain SGD steps under ``watch``, for tests that need a small recorded table."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.diagnose import watch


def watched_sgd(model: nn.Sequential, steps: int = 5, every: int = 2):
    """``steps`` SGD steps (lr 0.1) of ``model`` on random batches of 16 examples and two classes, recorded by
    ``watch`` every ``every`` steps; the batches come from torch's global generator (seed it first)."""
    features = model[0].in_features
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, every=every) as w:
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(model(torch.randn(16, features)), torch.randint(0, 2, (16,))).backward()
            optimizer.step()
    return w
