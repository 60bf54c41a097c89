"""A multilayer perceptron whose depth is the dial: ``depth`` = number of Linear layers.

Layout (``d`` = depth, ``w`` = width; the input is flattened):

- ``d = 1``: ``flatten -> Linear(in, classes)``, logistic regression (no blocks).
- ``d >= 2``: stem ``Linear(in, w)`` then ``d - 2`` blocks ``w -> w`` then head ``Linear(w, classes)``.

Blocks (see ``models.blocks``): plain ``act(norm(W h))``; post-activation residual ``h + act(norm(W h))``
(the MNIST-1D reference MLP's layout, Greydanus 2020, arXiv 2011.14439); pre-activation residual ``h + W
act(norm(h))`` (He et al. 2016, arXiv 1603.05027). With post-activation or plain blocks the stem is
``act(norm(Linear))``; with pre-activation the stem is a bare Linear and a final ``act(norm(h))`` sits
before the head, so both residual forms have the same parameters. Dropout follows each activation (before
``W`` in the pre-activation form).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from depthlab.models.base import DepthNet
from depthlab.models.blocks import LayerBlock, NormAct, block_layout, make_dropout
from depthlab.models.layers import init_model
from depthlab.models.options import DialsConfig
from depthlab.models.registry import register_model


@dataclass
class MLPConfig(DialsConfig):
    """The shared dials (``models.options.DialsConfig``); any input shape, flattened."""


@register_model("mlp", MLPConfig)
class MLP(DepthNet):
    """Flatten, then ``depth`` Linear layers (see the module docstring for the block layouts)."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = c = config
        in_features = math.prod(c.input_shape)
        layout = block_layout(c.residual, c.preact)
        self.stem, self.pool, features = self._stem_and_pool(in_features, layout)
        self.blocks = nn.Sequential(
            *(
                LayerBlock(
                    nn.Linear(c.width, c.width), c.width, layout, c.norm, c.activation, c.dropout, dims=0
                )
                for _ in range(max(c.depth - 2, 0))
            )
        )
        self.head = nn.Linear(features, c.num_classes)
        init_model(self, c.init, c.activation)

    def _stem_and_pool(self, in_features: int, layout: str) -> tuple[nn.Module, nn.Module, int]:
        c = self.config
        if c.depth == 1:
            return nn.Flatten(), nn.Identity(), in_features
        first = nn.Linear(in_features, c.width)
        if layout == "pre":
            final = nn.Sequential(NormAct(c.width, c.norm, c.activation, dims=0), make_dropout(c.dropout))
            return nn.Sequential(nn.Flatten(), first), final, c.width
        stem = LayerBlock(first, c.width, "plain", c.norm, c.activation, c.dropout, dims=0)
        return nn.Sequential(nn.Flatten(), stem), nn.Identity(), c.width

    @property
    def depth(self) -> int:
        return self.config.depth
