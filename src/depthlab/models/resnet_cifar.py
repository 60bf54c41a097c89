"""CIFAR ResNets of depth 6n+2 and their plain twins (He et al. 2016, arXiv 1512.03385, Sec. 4.2).

A 3x3 conv stem, then three stages of ``n`` basic blocks at widths ``w, 2w, 4w`` (``w = width``, 16 in the
paper) on feature maps of full, half and quarter size, then global average pooling and a Linear head: ``2 +
6n`` weight layers. A block is ``relu(BN(conv2(relu(BN(conv1 x)))) + shortcut(x))``: BN after each conv, the
second ReLU after the addition. Shortcuts are option A, parameter-free: the identity, or, where a stage
halves the map and doubles the width, a stride-2 subsample with the extra channels zero-padded. So
``plain_cifar`` (the same blocks without the addition) has exactly the parameters and depth of
``resnet_cifar``, as in the paper.

Init: ``he_normal`` by default, N(0, 2 / fan_in) with fan_in = in_channels * 3 * 3 (He et al. 2015's forward
form; torchvision uses fan_out), BN weights 1 and biases 0. ResNet-20 (n = 3, width 16) has 0.27M
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import check
from depthlab.models.base import DepthNet
from depthlab.models.layers import Activation, Norm, init_model, make_activation, make_norm
from depthlab.models.options import check_common, check_init, check_shape
from depthlab.models.registry import register_model

MIN_SIZE = 8  # two stride-2 stages need at least 8x8 to leave a 2x2 map


@dataclass
class ResNetCifarConfig:
    depth: int = 20  # 6n + 2
    width: int = 16  # first-stage width; the stages are width, 2 * width, 4 * width
    input_shape: tuple[int, ...] = (3, 32, 32)
    num_classes: int = 10
    residual: bool = True  # False gives the plain twin
    norm: Norm = "batch"  # the paper: batch
    activation: Activation = "relu"
    init: str = "he_normal"

    def __post_init__(self):
        check_common(self)
        check(
            (self.depth - 2) % 6 == 0 and self.depth >= 8,
            f"depth={self.depth}: must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...)",
        )
        check_shape(self.input_shape, 3, "a CIFAR ResNet")
        check(
            min(self.input_shape[1:]) >= MIN_SIZE,
            f"input_shape={tuple(self.input_shape)}: height and width must be >= {MIN_SIZE}",
        )
        check_init(self.init)

    @property
    def blocks_per_stage(self) -> int:
        return (self.depth - 2) // 6


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride`` and zero-pad the new channels (no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (N, C, H, W) -> (N, C + extra, H, W)


def conv3x3(in_channels: int, out_channels: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=bias)


class BasicBlock(nn.Module):
    """Two 3x3 convs with norm; ``act(norm(conv2(act(norm(conv1 x)))) + shortcut(x))``, or no shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, config: ResNetCifarConfig):
        super().__init__()
        bias = config.norm == "none"  # a conv followed by BN needs no bias
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.norm1 = make_norm(config.norm, out_channels, 2)
        self.act1 = make_activation(config.activation, out_channels)
        self.conv2 = conv3x3(out_channels, out_channels, 1, bias)
        self.norm2 = make_norm(config.norm, out_channels, 2)
        self.act2 = make_activation(config.activation, out_channels)
        identity = stride == 1 and in_channels == out_channels
        self.shortcut = None
        if config.residual:
            self.shortcut = nn.Identity() if identity else PadShortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.act2(out)


class ResNetCifar(DepthNet):
    """ResNet-(6n+2) for small images, or its plain twin (``residual=False``)."""

    def __init__(self, config: ResNetCifarConfig):
        super().__init__()
        self.config = c = config
        self.stem = nn.Sequential(
            conv3x3(c.input_shape[0], c.width, 1, c.norm == "none"),
            make_norm(c.norm, c.width, 2),
            make_activation(c.activation, c.width),
        )
        self.blocks = nn.Sequential(*self._blocks())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * c.width, c.num_classes)
        init_model(self, c.init, c.activation)

    def _blocks(self) -> list[BasicBlock]:
        c, blocks, channels = self.config, [], self.config.width
        for stage in range(3):
            out_channels = c.width * 2**stage
            for i in range(c.blocks_per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(channels, out_channels, stride, c))
                channels = out_channels
        return blocks

    @property
    def depth(self) -> int:
        return 2 + 6 * self.config.blocks_per_stage


@register_model("resnet_cifar", ResNetCifarConfig)
def resnet_cifar(config: ResNetCifarConfig) -> ResNetCifar:
    """ResNet-(6n+2) with option-A shortcuts (He et al. 2016); ``depth=20`` is ResNet-20."""
    return ResNetCifar(config)


@register_model("plain_cifar", ResNetCifarConfig, residual=False)
def plain_cifar(config: ResNetCifarConfig) -> ResNetCifar:
    """The plain twin of ``resnet_cifar``: the same layers and parameters, no shortcuts."""
    return ResNetCifar(config)
