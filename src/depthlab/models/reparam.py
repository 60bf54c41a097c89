"""Structural re-parameterization: fold a RepVGG-style block's branches into one 3x3 conv (eval mode).

RepVGG (Ding et al., arXiv 2101.03697) and ParNet (arXiv 2110.07641).

The protocol: every fusable block has ``reparameterize()``, which fuses it in place (a no-op once fused), and
:func:`reparameterize_model` walks the modules and calls it. timm's ``timm.utils.reparameterize_model`` walks
children and calls the same method, so it fuses a depthlab model too. The math, per block:

1. fold each conv + BN (torch's ``fuse_conv_bn_weights``): ``W' = W * s`` per output channel with
   ``s = gamma / sqrt(var + eps)``, ``b' = beta - mean * s``;
2. stride 1: zero-pad the 1x1 kernel to 3x3 (centre tap);
3. stride 2, 2x2 avg-pool then 1x1: the pool is a 2x2 conv with weights 1/4, so the branch is a 2x2 kernel
   ``W1 / 4`` on taps (1..2, 1..2) of a 3x3/s2/pad-1 window. The window of output i covers input rows
   2i-1..2i+1 and the pool covers 2i..2i+1, so the 2x2 kernel goes bottom/right, padded with one zero
   row/column on the top/left. Exact when sides are even, or when odd sides are zero-padded at the
   bottom/right before pooling (``HalfPool(pad_odd=True)``: the conv's own padding is zeros there too);
4. grouped convs fold group by group with the same formulas (the kernels already hold in/groups channels).

Not folded (they act multiplicatively or before a concat): the identity BN, the SE gate, the pre-fusion BNs.

Each block reads its own branches and calls these kernel helpers (``ParNetBlock.reparameterize``); this module
knows no block class, so the blocks import it and it imports none of them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def pooled_1x1_as_3x3(weight: torch.Tensor) -> torch.Tensor:
    """A 1x1 kernel behind a 2x2/s2 average pool, as the equivalent 3x3/s2/pad-1 kernel (zeros top/left)."""
    kernel_2x2 = weight.expand(-1, -1, 2, 2) / 4
    return F.pad(kernel_2x2, (1, 0, 1, 0))  # (left, right, top, bottom)


def centred_3x3(weight: torch.Tensor) -> torch.Tensor:
    """A 1x1 kernel as the equivalent 3x3/pad-1 kernel: the centre tap, zeros around it."""
    return F.pad(weight, (1, 1, 1, 1))


@torch.no_grad()
def biased_conv(like: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A conv with ``like``'s shape, stride, padding and groups, holding ``weight`` and a ``bias``."""
    conv = nn.Conv2d(
        like.in_channels,
        like.out_channels,
        like.kernel_size,
        like.stride,
        like.padding,
        groups=like.groups,
        bias=True,
        device=weight.device,
        dtype=weight.dtype,
    )
    conv.weight.copy_(weight)
    conv.bias.copy_(bias)
    return conv


def reparameterize_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """The deploy form of ``model``: ``reparameterize()`` called on every module that has it (a copy unless
    ``inplace``)."""
    target = model if inplace else copy.deepcopy(model)
    for module in list(target.modules()):  # a list: fusing changes the module tree
        if callable(getattr(module, "reparameterize", None)):
            module.reparameterize()
    return target


@torch.no_grad()
def randomize_batchnorm(model: nn.Module, generator: torch.Generator | None = None) -> None:
    """Give every BN random running stats and affine params, so a fusion test cannot pass by accident."""
    for bn in (m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)):
        shape, device = bn.running_mean.shape, bn.running_mean.device
        bn.running_mean.copy_(torch.randn(shape, generator=generator).to(device) * 0.5)
        bn.running_var.copy_(torch.rand(shape, generator=generator).to(device) + 0.5)
        bn.weight.copy_(torch.rand(shape, generator=generator).to(device) + 0.5)
        bn.bias.copy_(torch.randn(shape, generator=generator).to(device) * 0.2)


@dataclass
class Equivalence:
    max_abs_error: float
    max_rel_error: float  # max |a - b| / max |a|

    def __str__(self) -> str:
        return f"max abs error {self.max_abs_error:.3g}, max relative error {self.max_rel_error:.3g}"


@torch.no_grad()
def check_equivalence(
    model: nn.Module,
    fused: nn.Module | None = None,
    input_shape: tuple[int, ...] | None = None,
    batch: int = 2,
    seed: int = 0,
    randomize: bool = True,
    inplace: bool = False,
) -> Equivalence:
    """Compare train and deploy forms on random inputs in eval mode (BN stats and affines randomized first).

    With ``fused=None`` the deploy form is built here after randomizing (``inplace=True`` fuses ``model``
    itself once its reference outputs are computed, which saves a copy of a large model). Pass ``fused`` to
    compare a model you fused yourself; then ``randomize`` must be False (the two must share BN statistics).
    """
    generator = torch.Generator().manual_seed(seed)
    if randomize:
        randomize_batchnorm(model, generator)
    model.eval()
    shape = tuple(input_shape or model.config.input_shape)
    param = next(model.parameters())
    x = torch.randn((batch, *shape), generator=generator).to(param.device, param.dtype)
    expected = model(x)
    fused = reparameterize_model(model, inplace=inplace) if fused is None else fused
    actual = fused.eval()(x)
    max_abs = (expected - actual).abs().max().item()
    return Equivalence(max_abs, max_abs / max(expected.abs().max().item(), 1e-30))
