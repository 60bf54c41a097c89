"""ParNet's building blocks (Goyal et al., *Non-deep Networks*, arXiv 2110.07641).

One block class plays three roles, picked by (in, out, stride, groups) as in the official code:

- stream block (in == out, stride 1), "RepVGG-SSE" (Skip-Squeeze-Excitation):
  ``act(BN(conv3x3 x) + BN(conv1x1 x) + s * sigmoid(W GAP(s)))`` with ``s = BN_id(x)``;
- downsampling block (stride 2 or in != out):
  ``act((BN(conv3x3 x) + BN(conv1x1 pool2(x))) * 2 sigmoid(W GAP(x)))``;
- fusion block: the downsampling form with groups=2 on every conv, fed by :class:`FusionBlock`'s interleaved
  concat of two separately normalized inputs, with a 2-group channel shuffle after the activation.

``ParNetBlock.reparameterize()`` (called by :func:`depthlab.models.reparam.reparameterize_model`, or by
timm's ``reparameterize_model``) makes the 3x3, 1x1 and pooling branches one biased 3x3 conv (``fused``); the
identity BN, the SE gate and the pre-fusion BNs stay.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from depthlab.models.layers import make_activation
from depthlab.models.reparam import biased_conv, centred_3x3, pooled_1x1_as_3x3


def interleave(current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """Concat two (N, C, H, W) maps channel by channel: out[2k] = current[k], out[2k+1] = previous[k]."""
    return torch.stack((current, previous), dim=2).flatten(1, 2)  # (N, C, 2, H, W) -> (N, 2C, H, W)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's deterministic shuffle: out[k * groups + g] = group g's channel k (not a random one)."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ConvBN(nn.Sequential):
    """A bias-free conv followed by BatchNorm (keys ``conv.*``, ``bn.*``, as the official ``conv_bn``)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, groups: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The (weight, bias) of one conv whose output equals ``bn(conv(x))`` in eval mode."""
        conv, bn = self.conv, self.bn
        return fuse_conv_bn_weights(
            conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
        )


class HalfPool(nn.Module):
    """2x2 average pool, stride 2, feeding the 1x1 branch of a stride-2 block.

    With ``pad_odd`` an odd side is first zero-padded at the bottom/right, so the pooled map has the conv
    branch's ceil(H/2) size and the sum stays exactly what the fused 3x3 conv computes (zeros too).
    Without it (the official behaviour) odd sides must be rejected earlier, by the model.
    """

    def __init__(self, pad_odd: bool):
        super().__init__()
        self.pad_odd = pad_odd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_odd and (x.shape[-1] % 2 or x.shape[-2] % 2):
            x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        return F.avg_pool2d(x, 2, 2)


class SqueezeGate(nn.Module):
    """``scale * sigmoid(W GAP(x))``: one bias-free (grouped) 1x1 conv, no reduction, no hidden layer."""

    def __init__(self, in_ch: int, out_ch: int, groups: int, scale: float):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1, groups=groups, bias=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.conv(x.mean((2, 3), keepdim=True)))  # (N, out, 1, 1)
        return gate * self.scale if self.scale != 1.0 else gate


class ParNetBlock(nn.Module):
    """The one ParNet unit (stream, downsampling or fusion role by its arguments); one layer of depth."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        groups: int = 1,
        activation: str = "silu",
        pad_odd: bool = False,
    ):
        super().__init__()
        self.in_ch, self.out_ch, self.stride, self.groups = in_ch, out_ch, stride, groups
        has_skip = in_ch == out_ch and stride == 1
        self.conv3x3: ConvBN | None = ConvBN(in_ch, out_ch, 3, stride, groups)
        self.pool = HalfPool(pad_odd) if stride == 2 else nn.Identity()
        self.conv1x1: ConvBN | None = ConvBN(in_ch, out_ch, 1, 1, groups)
        self.fused: nn.Conv2d | None = None
        self.skip_norm = nn.BatchNorm2d(in_ch) if has_skip else None
        # Identity blocks gate the BN'd skip with sigmoid; the others gate the conv sum with 2 sigmoid.
        self.se = SqueezeGate(in_ch, out_ch, groups, 1.0 if has_skip else 2.0)
        self.act = make_activation(activation, out_ch)

    @property
    def is_fused(self) -> bool:
        return self.fused is not None

    def reparameterize(self) -> None:
        """Replace the conv branches by one biased 3x3 conv, in place (eval-mode BN statistics; a no-op when
        already fused)."""
        if self.fused is not None:
            return
        self.fused = biased_conv(self.conv3x3.conv, *self.fused_kernel())
        self.conv3x3 = self.conv1x1 = None
        self.pool = nn.Identity()

    @torch.no_grad()
    def fused_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one 3x3 (weight, bias) equal to the 3x3 + (pooled) 1x1 branches with their BNs; where the 1x1
        kernel sits in the 3x3 window is models.reparam's derivation."""
        w3, b3 = self.conv3x3.folded()
        w1, b1 = self.conv1x1.folded()
        w1_as_3x3 = pooled_1x1_as_3x3(w1) if self.stride == 2 else centred_3x3(w1)
        return w3 + w1_as_3x3, b3 + b1

    def convs(self, x: torch.Tensor) -> torch.Tensor:
        """The re-parameterizable part: 3x3 + (pooled) 1x1 branches, or their fused 3x3 conv."""
        if self.fused is not None:
            return self.fused(x)
        return self.conv3x3(x) + self.conv1x1(self.pool(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convs(x)
        if self.skip_norm is not None:
            skip = self.skip_norm(x)
            out = torch.addcmul(out, skip, self.se(skip))  # out + skip * gate in one pass
        else:
            out = out * self.se(x)
        out = self.act(out)
        return channel_shuffle(out, self.groups) if self.groups > 1 else out


class FusionBlock(nn.Module):
    """Merge two streams: a BN per input, interleaved concat (current first), then a groups=2 ParNet block."""

    def __init__(self, channels: int, out_ch: int, stride: int, activation: str, pad_odd: bool):
        super().__init__()
        self.norm_current = nn.BatchNorm2d(channels)
        self.norm_previous = nn.BatchNorm2d(channels)
        self.block = ParNetBlock(
            2 * channels, out_ch, stride, groups=2, activation=activation, pad_odd=pad_odd
        )

    def forward(self, current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return self.block(interleave(self.norm_current(current), self.norm_previous(previous)))
