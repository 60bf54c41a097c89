"""ParNet, the non-deep network: three parallel streams, depth 12 (Goyal et al., arXiv 2110.07641).

Data flow (ImageNet, 224x224; names as in this module, the official ones in ``models.parnet_keys``)::

    x -> stem (2 blocks, stride 2 each) -> x1 (56², w1) -> trunk[0] -> x2 (28², w2) -> trunk[1] -> x3 (14²)
    y1 = streams[0](x1)   4 blocks       d1 = down1(y1)              (28², w2)
    y2 = streams[1](x2)   5 blocks       f2 = fuse2(y2, d1)  stride 2 (14², w3)
    y3 = streams[2](x3)   5 blocks       f3 = fuse3(y3, f2)  stride 1 (14², w3)
    final(f3) stride 2 (7², w_final) -> global average pool -> dropout -> Linear

The trunk is chained (x3 is computed from x2, x2 from x1): each stream can start once its input exists.

Config mapping onto depthlab's ``depth`` / ``width`` dials:

- ``depth`` is the longest input -> output path in the deploy form (each block is one 3x3 conv after
  re-parameterization, plus the Linear head). It sets the stream lengths: ``n3 = n2 = depth - 7``,
  ``n1 = depth - 8``, which is 4/5/5 at the paper's depth 12 and keeps the stream-3 path the longest.
- ``width`` is the stream-1 width; stream 2 / stream 3 / final widths default to 2, 4 and 16 times it (as M,
  L, XL);
  ParNet-S sets them explicitly (192 / 384 / 1280) because its official stream-1 width is 92, not 96.

Small images: ``stem_stride=1`` keeps resolution in the stem; ``odd_input="pad"`` zero-pads odd sides before
the 2x2 pool so the un-fused branches agree at any size (exactly what the fused conv computes). The official
behaviour, ``odd_input="error"``, rejects un-fused inputs whose sides the stride-2 blocks cannot halve evenly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.models.layers import Activation
from depthlab.models.options import check_at_least, check_dropout, check_shape
from depthlab.models.parnet_blocks import FusionBlock, ParNetBlock
from depthlab.models.registry import register_model

MIN_DEPTH = 9  # stream 1 needs at least one block
FIXED_LAYERS = 7  # stem (2) + trunk (2) + fuse3 + final + Linear on the longest path


@dataclass
class ParNetConfig:
    depth: int = 12
    width: int = 128  # stream-1 width
    input_shape: tuple[int, ...] = (3, 224, 224)
    num_classes: int = 1000
    stream2_width: int = 0  # 0: 2 * width
    stream3_width: int = 0  # 0: 4 * width
    final_width: int = 0  # 0: 16 * width
    stem_width: int = 0  # 0: min(64, width), as the official code
    stem_stride: Literal[1, 2] = 2  # 1 for small images (CIFAR, digits, MNIST)
    final_stride: Literal[1, 2] = 2  # 1 drops the last downsampling (the CIFAR adaptation)
    activation: Activation = "silu"  # the paper's; the released YAMLs build "relu"
    dropout: float = 0.0  # before the Linear head (0.1 for L and XL)
    odd_input: Literal["error", "pad"] = "error"

    def __post_init__(self):
        check_at_least("depth", self.depth, MIN_DEPTH)
        check_at_least("width", self.width, 1)
        check_at_least("num_classes", self.num_classes, 1)
        check_shape(self.input_shape, 3, "ParNet (an image model)")
        for name in ("stream2_width", "stream3_width", "final_width", "stem_width"):
            check_at_least(name, getattr(self, name), 0)
        check_dropout(self.dropout)

    @property
    def widths(self) -> tuple[int, int, int, int]:
        """(stream 1, stream 2, stream 3, final) channel counts."""
        w = self.width
        return (w, self.stream2_width or 2 * w, self.stream3_width or 4 * w, self.final_width or 16 * w)

    @property
    def stream_blocks(self) -> tuple[int, int, int]:
        """Blocks per stream, derived from depth: 4/5/5 at depth 12."""
        n = self.depth - FIXED_LAYERS
        return (n - 1, n, n)

    @property
    def size_multiple(self) -> int:
        """Input sides the un-fused model can halve evenly at every stride-2 block (32 for ImageNet)."""
        return self.stem_stride**2 * 4 * self.final_stride


class ParNet(nn.Module):
    """ParNet (see the module docstring); ``reparameterize()`` gives the deploy form."""

    def __init__(self, config: ParNetConfig):
        super().__init__()
        self.config = c = config
        w1, w2, w3, w_final = c.widths
        stem_w = c.stem_width or min(64, w1)
        in_ch = c.input_shape[0]

        def block(i: int, o: int, stride: int = 1) -> ParNetBlock:
            return ParNetBlock(i, o, stride, activation=c.activation, pad_odd=c.odd_input == "pad")

        self.stem = nn.Sequential(block(in_ch, stem_w, c.stem_stride), block(stem_w, w1, c.stem_stride))
        self.trunk = nn.ModuleList([block(w1, w2, 2), block(w2, w3, 2)])
        self.streams = nn.ModuleList(
            nn.Sequential(*(block(w, w) for _ in range(n)))
            for w, n in zip((w1, w2, w3), c.stream_blocks, strict=True)
        )
        self.down1 = block(w1, w2, 2)
        self.fuse2 = FusionBlock(w2, w3, 2, c.activation, c.odd_input == "pad")
        self.fuse3 = FusionBlock(w3, w3, 1, c.activation, c.odd_input == "pad")
        self.final = block(w3, w_final, c.final_stride)
        self.head = nn.Linear(w_final, c.num_classes)
        self.feature_info = [
            {"num_chs": w, "reduction": c.stem_stride**2 * 2**i, "module": f"streams.{i}"}
            for i, w in enumerate((w1, w2, w3))
        ]

    # --- structure ------------------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Weight layers on the longest input -> output path of the deploy form (12 for ParNet-S/M/L/XL)."""
        n1, n2, n3 = (len(s) for s in self.streams)
        x1 = len(self.stem)
        d1 = x1 + n1 + 1
        f2 = max(x1 + 1 + n2, d1) + 1
        f3 = max(x1 + 2 + n3, f2) + 1
        return f3 + 2  # final block, Linear

    @property
    def num_features(self) -> int:
        return self.head.in_features

    @property
    def is_fused(self) -> bool:
        """True when every block is in deploy form."""
        return all(b.is_fused for b in self.modules() if isinstance(b, ParNetBlock))

    def parnet_blocks(self) -> list[ParNetBlock]:
        """Every ParNet block, stem first (not named ``blocks``: there is no sequential depth axis to cut)."""
        return [m for m in self.modules() if isinstance(m, ParNetBlock)]

    # --- forward --------------------------------------------------------------------------------------------

    def check_input(self, x: torch.Tensor) -> None:
        """Un-fused with ``odd_input="error"``: reject sides the stride-2 branches would disagree on."""
        if self.config.odd_input == "pad" or self.is_fused:
            return
        multiple = self.config.size_multiple
        h, w = x.shape[-2:]
        if h % multiple or w % multiple:
            raise DepthlabError(
                f"input size {h}x{w}: the un-fused ParNet needs height and width divisible by {multiple} "
                "(its 3x3/s2 and 2x2-pool branches round differently otherwise); reparameterize the model "
                "(it then takes any size) or build it with odd_input=pad"
            )

    def trunk_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The chained trunk: the three stream inputs x1, x2, x3."""
        self.check_input(x)
        x1 = self.stem(x)
        x2 = self.trunk[0](x1)
        return [x1, x2, self.trunk[1](x2)]

    def forward_streams(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The three stream outputs (strides 4/8/16 on ImageNet): multi-scale taps for detection."""
        return [stream(xi) for stream, xi in zip(self.streams, self.trunk_inputs(x), strict=True)]

    def merge(self, y1: torch.Tensor, y2: torch.Tensor, y3: torch.Tensor) -> torch.Tensor:
        """Fuse the stream outputs and downsample to the final feature map."""
        f2 = self.fuse2(y2, self.down1(y1))
        return self.final(self.fuse3(y3, f2))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, num_features)."""
        return self.merge(*self.forward_streams(x)).mean((2, 3))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Dropout (train only) then the Linear classifier."""
        return self.head(F.dropout(features, self.config.dropout, self.training))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The three stream outputs (ParNet has no single sequential stack to tap block by block)."""
        return self.forward_streams(x)

    # --- heads and deployment -------------------------------------------------------------------------------

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh Linear head for ``num_classes``, zero-initialized as in the official fine-tuning helper."""
        old = self.head
        self.head = nn.Linear(
            self.num_features, num_classes, device=old.weight.device, dtype=old.weight.dtype
        )
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def no_weight_decay(self) -> set[str]:
        """Names weight decay must skip: every 1-D tensor (BN affines, fused-conv and Linear biases)."""
        return {name for name, p in self.named_parameters() if p.ndim <= 1}

    def reparameterize(self) -> ParNet:
        """Fold every block's branches into one 3x3 conv, in place; returns self."""
        for block in self.parnet_blocks():
            block.reparameterize()
        return self


# --- registered variants ------------------------------------------------------------------------------------

_S = dict(width=92, stream2_width=192, stream3_width=384, final_width=1280)  # official; the paper's table: 96
_IMAGENET = {
    "s": _S,
    "m": dict(width=128),
    "l": dict(width=160, dropout=0.1),
    "xl": dict(width=200, dropout=0.1),
}
# CIFAR adaptation (no official code): stride-1 stem, 3/4/4 stream blocks (depth 11), no final downsampling.
_CIFAR = dict(depth=11, input_shape=(3, 32, 32), num_classes=10, stem_stride=1, final_stride=1)

for _name, _widths in _IMAGENET.items():
    register_model(f"parnet_{_name}", ParNetConfig, **_widths)(ParNet)
    _cifar_widths = dict(_widths, width=96) if _name == "s" else _widths
    register_model(f"parnet_cifar_{_name}", ParNetConfig, **{**_cifar_widths, **_CIFAR})(ParNet)

# A small member for CPU studies: digits (1, 8, 8), MNIST (1, 28, 28), CIFAR (3, 32, 32) all work un-fused.
register_model(
    "parnet_lite",
    ParNetConfig,
    depth=9,
    width=16,
    input_shape=(1, 28, 28),
    num_classes=10,
    stem_stride=1,
    odd_input="pad",
)(ParNet)
