"""An MLP of He et al.'s basic blocks and its plain twin (He et al. 2016, arXiv 1512.03385, Sec. 3.2).

A block holds two weight layers and the second ReLU comes after the addition, as in the paper:

- residual: ``h -> relu(norm(W2 relu(norm(W1 h))) + h)``
- plain:    ``h -> relu(norm(W2 relu(norm(W1 h))))`` (the same layers without the addition)

Layout: stem ``relu(norm(Linear(in, w)))``, then ``(depth - 2) / 2`` blocks, then ``Linear(w, classes)``, so
``depth`` counts the Linear layers and the twins have the same parameters. Each ``norm`` output (after BN,
before the ReLU or the addition) is the layer response He et al. measure in their Fig. 7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from depthlab.errors import check
from depthlab.models.base import DepthNet
from depthlab.models.blocks import make_dropout
from depthlab.models.layers import init_model, make_activation, make_norm
from depthlab.models.options import DialsConfig
from depthlab.models.registry import register_model


@dataclass
class BasicMLPConfig(DialsConfig):
    """The shared dials; ``depth`` must be even (stem + head + two layers per block)."""

    depth: int = 4
    norm: str = "batch"
    init: str = "he_normal"

    def __post_init__(self):
        super().__post_init__()
        check(self.depth >= 2 and self.depth % 2 == 0, f"depth={self.depth}: must be even and >= 2")

    def input_rule(self) -> tuple[int | None, str]:
        return None, "mlp_basic"


class BasicBlock(nn.Module):
    """Two Linear layers with norm; ReLU after the addition (``residual``) or with no addition (plain)."""

    def __init__(self, width: int, norm: str, activation: str, dropout: float, residual: bool):
        super().__init__()
        self.residual = residual
        self.layer1, self.norm1 = nn.Linear(width, width), make_norm(norm, width, 0)
        self.act1, self.drop = make_activation(activation, width), make_dropout(dropout)
        self.layer2, self.norm2 = nn.Linear(width, width), make_norm(norm, width, 0)
        self.act2 = make_activation(activation, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        branch = self.norm2(self.layer2(self.drop(self.act1(self.norm1(self.layer1(h))))))
        return self.act2(branch + h if self.residual else branch)


@register_model("mlp_basic", BasicMLPConfig)
class BasicMLP(DepthNet):
    """Flatten, a stem layer, ``(depth - 2) / 2`` basic blocks, a head (see the module docstring)."""

    def __init__(self, config: BasicMLPConfig):
        super().__init__()
        self.config = c = config
        first = nn.Linear(math.prod(c.input_shape), c.width)
        self.stem = nn.Sequential(
            nn.Flatten(), first, make_norm(c.norm, c.width, 0), make_activation(c.activation, c.width)
        )
        self.blocks = nn.Sequential(
            *(
                BasicBlock(c.width, c.norm, c.activation, c.dropout, c.residual)
                for _ in range((c.depth - 2) // 2)
            )
        )
        self.pool = nn.Identity()
        self.head = nn.Linear(c.width, c.num_classes)
        init_model(self, c.init, c.activation)

    @property
    def depth(self) -> int:
        return self.config.depth
