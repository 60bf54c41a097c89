"""Plain / normalized / residual CNNs for sequences (``cnn1d``, e.g. MNIST-1D) and images (``cnn2d``).

``depth`` = conv layers + the Linear head, so ``depth - 1`` convs (``depth = 1`` is a Linear layer on the
flattened input). Layout (``w`` = width, ``k`` = kernel size, padding ``k // 2``):

- stem: ``conv(in_channels -> w)``; blocks: ``depth - 2`` convs ``w -> w`` (the layouts of
  ``models.blocks``: plain ``act(norm(W h))``, post-activation residual ``h + act(norm(W h))``,
  pre-activation residual ``h + W act(norm(h))`` with a final ``act(norm(h))`` before the head, He et al.
  2016, arXiv 1603.05027).
- Downsampling: the first ``downsample`` convs have stride 2 (each halves every spatial size, rounding up)
  and the rest stride 1, so the depth dial can reach 64 on length-40 sequences without running out of
  positions; a residual block that subsamples gets a parameter-free stride-2 shortcut.
- Head: ``pool="flatten"`` (default) keeps position, which MNIST-1D needs (its digits are shifted templates,
  and the paper's CNN flattens); ``pool="avg"`` is global average pooling, position-free and independent of
  input size.

The default ``cnn1d`` (3 convs of width 32, two stride-2, flatten) mirrors the MNIST-1D paper's CNN
(Greydanus 2020, arXiv 2011.14439), which reaches 94% there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from torch import nn

from depthlab.errors import check
from depthlab.models.base import DepthNet
from depthlab.models.blocks import LayerBlock, NormAct, Subsample, block_layout
from depthlab.models.layers import init_model
from depthlab.models.options import DialsConfig, check_at_least
from depthlab.models.registry import register_model

Pool = Literal["flatten", "avg"]
_CONVS = {1: nn.Conv1d, 2: nn.Conv2d}


@dataclass
class CNNConfig(DialsConfig):
    depth: int = 4
    width: int = 32
    kernel_size: int = 3
    downsample: int = 2  # how many of the first convs have stride 2
    pool: Pool = "flatten"

    spatial_dims = 1  # 1 for sequences (C, L), 2 for images (C, H, W)

    def input_rule(self) -> tuple[int | None, str]:
        return self.spatial_dims + 1, f"a {self.spatial_dims}-d CNN"

    def __post_init__(self):
        super().__post_init__()
        check_at_least("kernel_size", self.kernel_size, 1)
        check(self.kernel_size % 2 == 1, f"kernel_size={self.kernel_size}: must be odd (padding keeps sizes)")
        check_at_least("downsample", self.downsample, 0)


@dataclass
class CNN1dConfig(CNNConfig):
    spatial_dims = 1


@dataclass
class CNN2dConfig(CNNConfig):
    input_shape: tuple[int, ...] = (3, 32, 32)
    spatial_dims = 2


class CNN(DepthNet):
    """``depth - 1`` convs then a Linear head (see the module docstring)."""

    def __init__(self, config: CNNConfig):
        super().__init__()
        self.config = c = config
        layout = block_layout(c.residual, c.preact)
        n_convs = c.depth - 1
        strides = [2 if i < c.downsample else 1 for i in range(n_convs)]
        self.stem = self._stem(strides[0], layout) if n_convs else nn.Identity()
        self.blocks = nn.Sequential(*(self._block(s, layout) for s in strides[1:]))
        self.pool = self._pool(layout, n_convs)
        self.head = nn.Linear(self._features(strides), c.num_classes)
        init_model(self, c.init, c.activation)

    def _conv(self, in_channels: int, stride: int) -> nn.Module:
        c = self.config
        return _CONVS[c.spatial_dims](in_channels, c.width, c.kernel_size, stride, padding=c.kernel_size // 2)

    def _stem(self, stride: int, layout: str) -> nn.Module:
        c = self.config
        conv = self._conv(c.input_shape[0], stride)
        if layout == "pre":
            return conv
        return LayerBlock(conv, c.width, "plain", c.norm, c.activation, c.dropout, c.spatial_dims)

    def _block(self, stride: int, layout: str) -> LayerBlock:
        c = self.config
        skip = Subsample(c.spatial_dims) if stride == 2 else None
        return LayerBlock(
            self._conv(c.width, stride),
            c.width,
            layout,
            c.norm,
            c.activation,
            c.dropout,
            c.spatial_dims,
            skip,
        )

    def _pool(self, layout: str, n_convs: int) -> nn.Module:
        c = self.config
        final: list[nn.Module] = []
        if layout == "pre" and n_convs:
            final.append(NormAct(c.width, c.norm, c.activation, c.spatial_dims))
        if c.pool == "avg" and n_convs:
            final.append(nn.AdaptiveAvgPool1d(1) if c.spatial_dims == 1 else nn.AdaptiveAvgPool2d(1))
        return nn.Sequential(*final, nn.Flatten())

    def _features(self, strides: list[int]) -> int:
        """Width of the flattened features: each stride-2 conv maps a size s to ceil(s / 2)."""
        c = self.config
        if not strides:
            return math.prod(c.input_shape)
        if c.pool == "avg":
            return c.width
        spatial = [s for s in c.input_shape[1:]]
        for _ in range(strides.count(2)):
            spatial = [math.ceil(s / 2) for s in spatial]
        return c.width * math.prod(spatial)

    @property
    def depth(self) -> int:
        return self.config.depth


@register_model("cnn1d", CNN1dConfig)
def cnn1d(config: CNN1dConfig) -> CNN:
    """A 1-d CNN for sequences shaped (channels, length)."""
    return CNN(config)


@register_model("cnn2d", CNN2dConfig)
def cnn2d(config: CNN2dConfig) -> CNN:
    """A 2-d CNN for images shaped (channels, height, width)."""
    return CNN(config)
