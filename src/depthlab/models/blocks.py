"""Building blocks shared by the MLP and the CNNs: one weight layer with its norm, activation and dropout.

Three layouts, each wrapping exactly one weight layer ``W`` (a stack of blocks adds one to the depth per
block):

- plain:                   ``h -> drop(act(norm(W h)))``
- post-activation residual: ``h -> skip(h) + drop(act(norm(W h)))`` (the MNIST-1D reference MLP's layout)
- pre-activation residual:  ``h -> skip(h) + W drop(act(norm(h)))`` (He et al. 2016, identity mappings,
  arXiv 1603.05027: the shortcut carries ``h`` untouched from block to block)

``skip`` is the identity, or a parameter-free stride-2 subsample when ``W`` halves the spatial size, so a
residual block adds no parameters over its plain twin.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from depthlab.models.layers import make_activation, make_norm

Layout = Literal["plain", "post", "pre"]


def make_dropout(p: float) -> nn.Module:
    """Dropout with probability ``p``, or the identity when ``p`` is 0 (keeps module trees free of no-ops)."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


def block_layout(residual: bool, preact: bool) -> Layout:
    """The layout for a config's ``residual`` and ``preact`` flags (``preact`` only matters with residual)."""
    if not residual:
        return "plain"
    return "pre" if preact else "post"


class Subsample(nn.Module):
    """Parameter-free stride-2 shortcut: keep every other position along each spatial axis."""

    def __init__(self, dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., ::2] if self.dims == 1 else x[..., ::2, ::2]


class LayerBlock(nn.Module):
    """One weight layer ``W`` with norm, activation and dropout, in one of the three layouts above."""

    def __init__(
        self,
        layer: nn.Module,
        channels: int,
        layout: Layout,
        norm: str,
        activation: str,
        dropout: float,
        dims: int,
        skip: nn.Module | None = None,
    ):
        super().__init__()
        self.layout = layout
        self.layer = layer  # not "weight": tools expect module.weight to be a tensor
        self.norm = make_norm(norm, channels, dims)
        self.act = make_activation(activation, channels)
        self.drop = make_dropout(dropout)
        self.skip = skip if skip is not None else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.layout == "pre":
            return self.skip(h) + self.layer(self.drop(self.act(self.norm(h))))
        out = self.drop(self.act(self.norm(self.layer(h))))
        return out if self.layout == "plain" else self.skip(h) + out


class NormAct(nn.Sequential):
    """The final ``act(norm(h))`` a pre-activation stack needs before its head (its last block ends in W)."""

    def __init__(self, channels: int, norm: str, activation: str, dims: int):
        super().__init__(make_norm(norm, channels, dims), make_activation(activation, channels))
