"""ImageNet ResNets 18/34/50/101/152 and plain twins (He et al. 2016, arXiv 1512.03385, Table 1).

Stem ``conv7x7/2 -> BN -> ReLU -> maxpool3x3/2``, four stages at widths ``w, 2w, 4w, 8w`` (``w = width``,
64) with basic blocks (two 3x3 convs; depth 18 and 34) or bottleneck blocks (1x1, 3x3, 1x1 with 4x
expansion; depth 50+), global average pooling and a Linear head. The stride of a bottleneck sits on its 3x3
conv and shortcuts that change shape are projections (1x1 conv + BN, option B), both as torchvision's
``resnet*``, whose parameter counts these match (resnet18: 11,689,512 at 1000 classes). Plain twins drop the
shortcuts, and with them the projection convs, so they have fewer parameters but the same depth.

Init as torchvision: convs N(0, 2 / fan_out) (He et al. 2015), BN weights 1 and biases 0, the head PyTorch's
default; ``zero_init_residual`` zeroes each block's last BN weight (Goyal et al. 2017, arXiv 1706.02677).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from depthlab.errors import check
from depthlab.models.base import DepthNet
from depthlab.models.options import check_common, check_shape
from depthlab.models.registry import register_model

STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
EXPANSION = 4  # bottleneck output width / inner width


@dataclass
class ResNetConfig:
    depth: int = 18  # one of STAGES
    width: int = 64  # stem and first-stage width
    input_shape: tuple[int, ...] = (3, 224, 224)
    num_classes: int = 1000
    residual: bool = True  # False gives the plain twin
    zero_init_residual: bool = False

    def __post_init__(self):
        check_common(self)
        check(self.depth in STAGES, f"depth={self.depth}: must be one of {', '.join(map(str, STAGES))}")
        check_shape(self.input_shape, 3, "an ImageNet ResNet")

    @property
    def bottleneck(self) -> bool:
        return self.depth >= 50


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    ]


class Block(nn.Module):
    """A basic or bottleneck block: ``relu(body(x) + shortcut(x))``; ``relu(body(x))`` in the plain twin."""

    def __init__(self, in_channels: int, inner: int, stride: int, bottleneck: bool, residual: bool):
        super().__init__()
        out_channels = inner * EXPANSION if bottleneck else inner
        if bottleneck:
            layers = [
                *conv_bn(in_channels, inner, 1),
                nn.ReLU(inplace=True),
                *conv_bn(inner, inner, 3, stride),
                nn.ReLU(inplace=True),
                *conv_bn(inner, out_channels, 1),
            ]
        else:
            layers = [
                *conv_bn(in_channels, inner, 3, stride),
                nn.ReLU(inplace=True),
                *conv_bn(inner, inner, 3),
            ]
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module | None = None
        if residual:
            same = stride == 1 and in_channels == out_channels
            projection = nn.Sequential(*conv_bn(in_channels, out_channels, 1, stride))
            self.shortcut = nn.Identity() if same else projection
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.act(out)

    @property
    def last_norm(self) -> nn.BatchNorm2d:
        return self.body[-1]


class ResNet(DepthNet):
    """ResNet-18/34/50/101/152 (``residual=True``) or its plain twin."""

    def __init__(self, config: ResNetConfig):
        super().__init__()
        self.config = c = config
        self.stem = nn.Sequential(
            *conv_bn(c.input_shape[0], c.width, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1)
        )
        self.blocks = nn.Sequential(*self._blocks())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        features = c.width * 8 * (EXPANSION if c.bottleneck else 1)
        self.head = nn.Linear(features, c.num_classes)
        self._init_weights()

    def _blocks(self) -> list[Block]:
        c, blocks, channels = self.config, [], self.config.width
        for stage, count in enumerate(STAGES[c.depth]):
            inner = c.width * 2**stage
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(Block(channels, inner, stride, c.bottleneck, c.residual))
                channels = inner * (EXPANSION if c.bottleneck else 1)
        return blocks

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if self.config.zero_init_residual:
            for block in self.blocks:
                nn.init.zeros_(block.last_norm.weight)

    @property
    def depth(self) -> int:
        convs_per_block = 3 if self.config.bottleneck else 2
        return 2 + convs_per_block * sum(STAGES[self.config.depth])


def _register(depth: int) -> None:
    def build(config: ResNetConfig) -> ResNet:
        return ResNet(config)

    build.__doc__ = f"ResNet-{depth} (``resnet{depth}``) or its plain twin (``plain{depth}``)."
    register_model(f"resnet{depth}", ResNetConfig, depth=depth)(build)
    if depth <= 50:
        register_model(f"plain{depth}", ResNetConfig, depth=depth, residual=False)(build)


for _depth in STAGES:
    _register(_depth)
