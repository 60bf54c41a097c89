"""Layers picked by name: activations, normalization and weight initialization.

Every technique the seeds credit with making depth work is a string here, so a study grid is a list of dicts:
activations (ReLU family vs sigmoid/tanh), BatchNorm/LayerNorm, and the inits of Glorot & Bengio 2010
(Xavier) and He et al. 2015 (arXiv 1502.01852).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from depthlab.errors import DepthlabError, unknown

LEAKY_SLOPE = 0.01
PRELU_INIT = 0.25  # He et al. 2015 start PReLU slopes at 0.25

# The one table of activations: name -> factory taking the channel count (only PReLU uses it: a slope per
# channel, He et al. 2015). The names and the configs' ``Activation`` type are read from it.
ACTIVATION_FACTORIES: dict[str, Callable[[int], nn.Module]] = {
    "sigmoid": lambda _: nn.Sigmoid(),
    "tanh": lambda _: nn.Tanh(),
    "relu": lambda _: nn.ReLU(),
    "leaky_relu": lambda _: nn.LeakyReLU(LEAKY_SLOPE),
    "prelu": lambda channels: nn.PReLU(channels, init=PRELU_INIT),
    "gelu": lambda _: nn.GELU(),
    "silu": lambda _: nn.SiLU(),
    "softsign": lambda _: nn.Softsign(),
    "identity": lambda _: nn.Identity(),
}
ACTIVATIONS = tuple(ACTIVATION_FACTORIES)
# The one table of normalizations: name -> factory taking (channels, dims), dims = 0 (features), 1 (N,C,L)
# or 2 (N,C,H,W). ``layer`` on conv features normalizes over all of (C, L) or (C, H, W) per sample: GroupNorm
# with one group, which is LayerNorm for feature maps.
NORM_FACTORIES: dict[str, Callable[[int, int], nn.Module]] = {
    "none": lambda _channels, _dims: nn.Identity(),
    "batch": lambda channels, dims: (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d)[dims](channels),
    "layer": lambda channels, dims: nn.LayerNorm(channels) if dims == 0 else nn.GroupNorm(1, channels),
}
NORMS = tuple(NORM_FACTORIES)
# Config field types: ``depthlab.config.build`` checks a value against them (with a close-match suggestion).
Activation = Literal[ACTIVATIONS]  # a Literal built from the table, so the names live in one place
Norm = Literal[NORMS]


def make_activation(name: str, channels: int = 1) -> nn.Module:
    """An activation module by name; ``prelu`` learns one slope per channel (He et al. 2015, channel-wise)."""
    if name not in ACTIVATION_FACTORIES:
        raise unknown("activation", name, ACTIVATIONS)
    return ACTIVATION_FACTORIES[name](channels)


def make_norm(name: str, channels: int, dims: int) -> nn.Module:
    """A normalization layer for ``dims`` = 0 (features), 1 (sequences N,C,L) or 2 (images N,C,H,W)."""
    if name not in NORM_FACTORIES:
        raise unknown("norm", name, NORMS)
    return NORM_FACTORIES[name](channels, dims)


def parse_init(name: str) -> tuple[str, float | None]:
    """``"normal(0.02)"`` -> ``("normal", 0.02)``; ``"he_normal"`` -> ``("he_normal", None)``."""
    match = re.fullmatch(r"(\w+)(?:\(([^)]*)\))?", name.strip())
    base = match.group(1) if match else name
    if base not in INITS:
        raise unknown("init", name, INITS)
    if match and match.group(2) is not None:
        try:
            value = float(match.group(2))
        except ValueError:
            raise DepthlabError(f"init {name!r}: the value in parentheses must be a number") from None
        if base != "normal" or not value > 0:
            raise DepthlabError(f"init {name!r}: only normal(std) takes a value, and std must be > 0")
        return base, value
    return base, (0.01 if base == "normal" else None)


def he_gain(activation: str) -> float:
    """sqrt(2 / (1 + a^2)): He et al.'s gain for ReLU (a=0) and Leaky ReLU / PReLU with slope a."""
    slope = {"leaky_relu": LEAKY_SLOPE, "prelu": PRELU_INIT}.get(activation, 0.0)
    return math.sqrt(2.0 / (1.0 + slope**2))


def _he_uniform(weight: torch.Tensor, fan_in: int, activation: str, _std: float | None) -> None:
    bound = he_gain(activation) * math.sqrt(3.0 / fan_in)
    nn.init.uniform_(weight, -bound, bound)


def _orthogonal(weight: torch.Tensor, _fan_in: int, activation: str, _std: float | None) -> None:
    relu_family = activation in ("relu", "leaky_relu", "prelu")
    nn.init.orthogonal_(weight, gain=he_gain(activation) if relu_family else 1.0)


# The one table of inits: name -> initializer(weight, fan_in, activation, std), in place; ``std`` is
# ``normal(std)``'s value (``parse_init``). ``default`` keeps PyTorch's own init.
INITIALIZERS: dict[str, Callable[[torch.Tensor, int, str, float | None], object]] = {
    "default": lambda _weight, _fan_in, _activation, _std: None,
    "xavier_uniform": lambda weight, _fan_in, _activation, _std: nn.init.xavier_uniform_(weight),
    "xavier_normal": lambda weight, _fan_in, _activation, _std: nn.init.xavier_normal_(weight),
    "he_uniform": _he_uniform,
    "he_normal": lambda weight, fan_in, activation, _std: nn.init.normal_(
        weight, 0.0, he_gain(activation) / math.sqrt(fan_in)
    ),
    "orthogonal": _orthogonal,
    "lecun_normal": lambda weight, fan_in, _activation, _std: nn.init.normal_(
        weight, 0.0, 1.0 / math.sqrt(fan_in)
    ),
    "normal": lambda weight, _fan_in, _activation, std: nn.init.normal_(weight, 0.0, std),
}
INITS = tuple(INITIALIZERS)


def init_weight(weight: torch.Tensor, init: str, activation: str = "relu") -> None:
    """Initialize one weight tensor (Linear or Conv) in place by name; ``default`` leaves PyTorch's init."""
    base, std = parse_init(init)
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    with torch.no_grad():
        INITIALIZERS[base](weight, fan_in, activation, std)


def init_model(model: nn.Module, init: str, activation: str = "relu") -> None:
    """Apply a named init to every Linear/Conv weight (biases to zero, as Glorot & Bengio do)."""
    parse_init(init)  # validate even when there is nothing to initialize
    if init == "default":
        return
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            init_weight(module.weight, init, activation)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
