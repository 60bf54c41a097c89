"""Inference latency per depth, measured on this machine with depthlab's one timer (``diagnose.timing``).

The model is timed in the form it would ship in: eval mode, no autograd, and for ParNet the deploy form (every
block's branches folded into one 3x3 conv, ``depthlab.models.reparam``; Ding et al. 2021, arXiv 2101.03697;
Goyal et al. 2021, arXiv 2110.07641). Weights do not change the time, so an untrained model of the same config
is timed; the reported value is the median milliseconds per forward within ``budget`` seconds of timed calls.
"""

from __future__ import annotations

import torch
from torch import nn

from depthlab.diagnose.timing import time_forward
from depthlab.models.parnet_blocks import ParNetBlock
from depthlab.models.reparam import reparameterize_model


def deploy_form(model: nn.Module) -> tuple[nn.Module, str]:
    """The model as it would be deployed, and the form's name (``deploy`` for a re-parameterized ParNet)."""
    model = model.eval()
    if any(isinstance(m, ParNetBlock) for m in model.modules()):
        return reparameterize_model(model), "deploy"
    return model, "train"


def latency_ms(
    model: nn.Module, input_shape: tuple[int, ...], batch: int, device: str = "cpu", budget: float = 0.2
) -> tuple[float, str]:
    """Median milliseconds per forward of a ``batch`` on ``device``, and the form timed."""
    model, form = deploy_form(model.to(device))
    x = torch.randn(batch, *input_shape, device=device)
    return time_forward(model, x, budget).ms, form
