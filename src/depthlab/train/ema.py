"""Exponential moving average of a model's weights (timm's ModelEmaV2; Polyak & Juditsky 1992).

After each optimizer step every floating-point entry of the state dict (parameters and BatchNorm statistics)
moves toward the model's: ``ema = decay * ema + (1 - decay) * model``; integer buffers are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma(nn.Module):
    """A frozen copy of ``model`` whose weights trail it with ``decay``."""

    def __init__(self, model: nn.Module, decay: float):
        super().__init__()
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step toward ``model``'s current weights."""
        ema_state, state = self.module.state_dict(), model.state_dict()
        floats = [k for k, v in ema_state.items() if v.is_floating_point()]
        others = [k for k in ema_state if k not in set(floats)]
        if floats:
            torch._foreach_lerp_([ema_state[k] for k in floats], [state[k] for k in floats], 1.0 - self.decay)
        for key in others:
            ema_state[key].copy_(state[key])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)
