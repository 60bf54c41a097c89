"""The transformer block, nanoGPT's layout with its normalization and residual made dials.

A block is two branches, attention then MLP (either can be switched off: attention-only stacks are Dong et
al.'s rank-collapse setting, arXiv 2103.03404). Each branch ``f`` sits in a ``Branch`` that puts the norm
where ``norm_position`` says (``s`` is ``branch_scale``, dropout acts on ``f``'s output):

- ``pre``:      ``x + s f(N(x))``                  (Xiong et al. 2020, arXiv 2002.04745; GPT-2, nanoGPT)
- ``post``:     ``N(x + s f(x))``                  (the original Transformer, Vaswani et al. 2017)
- ``deepnorm``: ``N(alpha x + s f(x))``, with alpha = (2 depth)^(1/4) and the block's weights Xavier-normal
  with gain beta = (8 depth)^(-1/4) on v, the attention output and the MLP, gain 1 on q and k (Wang et al.
  2022, DeepNet, arXiv 2203.00555: the constants for encoder-only and decoder-only stacks, N = M = depth)
- ``none``:     ``x + s f(x)``

Without ``residual`` the ``x`` term is dropped (``alpha x`` too). ``N`` is LayerNorm or RMSNorm (Zhang &
Sennrich 2019, arXiv 1910.07467).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.models.blocks import make_dropout
from depthlab.models.layers import make_activation

# Norms over each token's features. Not ``layers.NORM_FACTORIES``: batch statistics across tokens and the
# conv forms there have no place in a transformer, and RMSNorm has no conv form.
TOKEN_NORMS = {"layer": nn.LayerNorm, "rms": nn.RMSNorm}
TokenNorm = Literal[tuple(TOKEN_NORMS)]
NORM_POSITIONS = ("pre", "post", "deepnorm", "none")
NormPosition = Literal[NORM_POSITIONS]


def deepnorm_alpha(depth: int) -> float:
    """DeepNorm's residual weight for an encoder-only or decoder-only stack of ``depth`` blocks."""
    return (2 * depth) ** 0.25


def deepnorm_beta(depth: int) -> float:
    """DeepNorm's init gain for v, the attention output and the MLP (same stacks)."""
    return (8 * depth) ** -0.25


class Attention(nn.Module):
    """Multi-head self-attention: one Linear makes q, k and v; ``scaled_dot_product_attention`` mixes the
    positions (causal for a language model); one Linear maps the heads back."""

    def __init__(self, width: int, heads: int, dropout: float, causal: bool):
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.heads, self.dropout, self.causal = heads, dropout, causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))  # (B, H, T, C/H)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)  # (B, H, T, C/H)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))  # (B, T, C)


class MLP(nn.Module):
    """``fc2(act(fc1 x))``, hidden width ``hidden``, applied to each token alike."""

    def __init__(self, width: int, hidden: int, activation: str):
        super().__init__()
        self.fc1, self.act, self.fc2 = (
            nn.Linear(width, hidden),
            make_activation(activation),
            nn.Linear(hidden, width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Branch(nn.Module):
    """One residual branch ``f`` with its norm placed by ``norm_position`` (see the module docstring)."""

    def __init__(self, f: nn.Module, config):
        super().__init__()
        c = config
        self.f, self.drop = f, make_dropout(c.dropout)
        self.norm = TOKEN_NORMS[c.norm](c.width) if c.norm_position != "none" else nn.Identity()
        self.position, self.residual = c.norm_position, c.residual
        self.alpha = deepnorm_alpha(c.depth) if c.norm_position == "deepnorm" else 1.0
        self.scale = 1 / math.sqrt(2 * c.depth) if c.branch_scale == "depth" else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.f(self.norm(x) if self.position == "pre" else x))
        if self.scale != 1.0:
            h = self.scale * h
        if self.residual:
            h = (self.alpha * x if self.alpha != 1.0 else x) + h
        return self.norm(h) if self.position in ("post", "deepnorm") else h


class Block(nn.Module):
    """Attention then MLP, each a ``Branch``; a switched-off branch is absent (None)."""

    def __init__(self, config, causal: bool):
        super().__init__()
        c = config
        self.attn = Branch(Attention(c.width, c.heads, c.dropout, causal), c) if c.attention else None
        self.mlp = Branch(MLP(c.width, c.hidden, c.activation), c) if c.mlp else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        if self.attn is not None:
            x = self.attn(x)
        return self.mlp(x) if self.mlp is not None else x

    @property
    def path_layers(self) -> int:
        """Weight layers on the block's longest path: two per branch (qkv and out; fc1 and fc2)."""
        return 2 * ((self.attn is not None) + (self.mlp is not None))

    def deepnorm_init(self, beta: float) -> None:
        """DeepNet's init: Xavier normal, gain 1 on q and k, ``beta`` on v, out, fc1 and fc2; biases 0."""
        weights = []
        if self.attn is not None:
            qkv, width = self.attn.f.qkv.weight, self.attn.f.out.in_features
            weights += [(qkv[:width], 1.0), (qkv[width : 2 * width], 1.0), (qkv[2 * width :], beta)]
            weights += [(self.attn.f.out.weight, beta)]
        if self.mlp is not None:
            weights += [(self.mlp.f.fc1.weight, beta), (self.mlp.f.fc2.weight, beta)]
        with torch.no_grad():
            for weight, gain in weights:
                nn.init.xavier_normal_(weight, gain=gain)  # a slice of qkv: its own (width x width) fans
            for linear in (m for m in self.modules() if isinstance(m, nn.Linear)):
                nn.init.zeros_(linear.bias)
