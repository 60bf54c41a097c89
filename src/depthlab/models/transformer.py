"""The transformer family with depth as the dial: a decoder-only language model and an encoder classifier,
built from one block (``models.transformer_block``), in nanoGPT's layout (Karpathy; GPT-2, Radford et al.
2019).

``task="lm"``: token ids ``(B, T)`` -> embedding + learned positions -> ``depth`` causal blocks -> logits
``(B, T, num_classes)`` for the next token at every position; ``num_classes`` is the vocabulary. The head is
tied to the token embedding (Press & Wolf 2017, arXiv 1608.05859; nanoGPT), so it adds no parameters.

``task="classify"``: the input is token ids ``(T,)`` when ``vocab_size`` > 0, else features: ``(C, *S)`` is
``prod(S)`` positions of ``C`` features each (``(L,)`` is ``L`` positions of one), each mapped by one Linear
(1-pixel patches on images, as a ViT with patch size 1). Bidirectional blocks, then the mean over positions or
a class token (``pool="cls"``, prepended as in ViT, Dosovitskiy et al. 2020, arXiv 2010.11929), then a Linear.

A stack whose norm comes before each branch (``pre``) ends in a final norm, as GPT-2's does; ``post`` and
``deepnorm`` stacks already end in one. Depth, in depthlab's sense (weight layers on the longest path,
``DepthNet.depth``): the embedding, two per branch, and the head: ``2 + 4 depth`` with both branches on.

Init: ``init`` on every Linear (default ``normal(0.02)``, GPT-2's), biases 0, embeddings N(0, 0.02); a
DeepNorm stack replaces its blocks' init with DeepNet's (so ``init`` must stay at its default there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from depthlab.errors import DepthlabError, check
from depthlab.models.base import DepthNet
from depthlab.models.blocks import make_dropout
from depthlab.models.layers import Activation, init_model
from depthlab.models.options import check_at_least, check_common, check_dropout, check_init, check_shape
from depthlab.models.registry import register_model
from depthlab.models.transformer_block import (
    TOKEN_NORMS,
    Block,
    NormPosition,
    TokenNorm,
    deepnorm_beta,
)

DEFAULT_INIT = "normal(0.02)"
EMBEDDING_STD = 0.02


@dataclass
class TransformerConfig:
    depth: int = 4  # blocks
    width: int = 64  # d_model
    input_shape: tuple[int, ...] = (1, 40)  # (T,) token ids, or (C, *S) / (L,) features (see the docstring)
    num_classes: int = 10  # classes; for the LM, the vocabulary
    task: Literal["classify", "lm"] = "classify"
    pool: Literal["mean", "cls"] = "mean"  # classify only
    vocab_size: int = 0  # classify: > 0 reads token ids in [0, vocab_size); the LM reads its own vocabulary
    heads: int = 4
    mlp_ratio: float = 4.0  # MLP hidden width = int(mlp_ratio * width)
    norm_position: NormPosition = "pre"
    norm: TokenNorm = "layer"
    residual: bool = True
    branch_scale: Literal["1", "depth"] = "1"  # "depth": each branch x 1/sqrt(2 depth) (Yang et al. 2023)
    attention: bool = True
    mlp: bool = True
    activation: Activation = "gelu"
    dropout: float = 0.0
    init: str = DEFAULT_INIT

    def __post_init__(self):
        check_common(self)
        check_at_least("heads", self.heads, 1)
        check(self.width % self.heads == 0, f"heads={self.heads}: must divide width={self.width}")
        check(self.attention or self.mlp, "attention=False and mlp=False: a block needs at least one branch")
        check(
            math.isfinite(self.mlp_ratio) and self.hidden >= 1,
            f"mlp_ratio={self.mlp_ratio!r}: int(mlp_ratio * width) must be >= 1",
        )
        check_at_least("vocab_size", self.vocab_size, 0)
        check_dropout(self.dropout)
        check_init(self.init)
        self._check_combinations()

    def _check_combinations(self) -> None:
        if self.task == "lm":
            check(
                self.pool == "mean",
                "pool='cls': a language model predicts at every position (pool is for task=classify)",
            )
            check(
                self.vocab_size in (0, self.num_classes),
                f"vocab_size={self.vocab_size}: a language model reads its own vocabulary "
                f"(num_classes={self.num_classes}); leave vocab_size at 0",
            )
        check_shape(self.input_shape, 1 if self.reads_tokens else None, "a transformer reading token ids")
        if self.norm_position == "deepnorm" and self.init != DEFAULT_INIT:
            raise DepthlabError(
                f"init={self.init!r} with norm_position='deepnorm': DeepNorm sets its own init "
                f"(Xavier normal, gain beta); leave init at {DEFAULT_INIT!r}"
            )

    @property
    def hidden(self) -> int:
        return int(self.mlp_ratio * self.width) if self.mlp_ratio > 0 else 0

    @property
    def reads_tokens(self) -> bool:
        return self.task == "lm" or self.vocab_size > 0

    @property
    def positions(self) -> int:
        """Positions in one input: T token ids, or the product of the dims after the channel (L for (L,))."""
        shape = self.input_shape
        return shape[0] if self.reads_tokens or len(shape) == 1 else math.prod(shape[1:])

    @property
    def features(self) -> int:
        """Features at each position of a feature input: its channels (1 for (L,))."""
        return self.input_shape[0] if len(self.input_shape) > 1 else 1

    @property
    def vocabulary(self) -> int:
        """How many token ids the model reads (0: it reads features)."""
        return self.num_classes if self.task == "lm" else self.vocab_size


class Embed(nn.Module):
    """Input -> ``(B, T, C)``: token ids through an Embedding or each position's features through a Linear,
    a class token first when pooling by it, then learned positions."""

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.tokens = nn.Embedding(c.vocabulary, c.width) if c.reads_tokens else None
        self.features = None if c.reads_tokens else nn.Linear(c.features, c.width)
        self.cls = nn.Parameter(torch.zeros(c.width)) if c.pool == "cls" and c.task == "classify" else None
        self.positions = nn.Embedding(c.positions + (self.cls is not None), c.width)
        self.drop = make_dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tokens is not None:
            h = self.tokens(x)  # (B, T) -> (B, T, C)
        else:
            h = self.features(x.flatten(2).transpose(1, 2) if x.dim() > 2 else x.unsqueeze(-1))  # (B, T, C)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(len(h), 1, -1), h], dim=1)  # (B, 1 + T, C)
        return self.drop(h + self.positions(torch.arange(h.shape[1], device=h.device)))


class Pool(nn.Module):
    """``(B, T, C)`` -> the head's input: the final norm (pre-norm stacks), then the class token, the mean
    over positions, or (the LM) every position."""

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.norm = TOKEN_NORMS[c.norm](c.width) if c.norm_position == "pre" else nn.Identity()
        self.how = "all" if c.task == "lm" else c.pool

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.norm(h)
        if self.how == "cls":
            return h[:, 0]  # (B, C)
        return h.mean(1) if self.how == "mean" else h


@register_model("transformer", TransformerConfig)
class Transformer(DepthNet):
    """``stem`` (Embed) -> ``blocks`` (``depth`` Blocks) -> ``pool`` -> ``head`` (the module docstring)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.vocab_size = c.vocabulary  # token ids it reads; 0: features (``models.base.random_input``)
        self.stem = Embed(c)
        self.blocks = nn.Sequential(*(Block(c, causal=c.task == "lm") for _ in range(c.depth)))
        self.pool = Pool(c)
        self.head = nn.Linear(c.width, c.num_classes, bias=c.task != "lm")
        self._init_weights()
        if c.task == "lm":
            self.head.weight = self.stem.tokens.weight  # tied: (vocab, width) both

    def _init_weights(self) -> None:
        c = self.config
        init_model(self, c.init, c.activation)
        for table in (m for m in self.modules() if isinstance(m, nn.Embedding)):
            nn.init.normal_(table.weight, 0.0, EMBEDDING_STD)
        if c.norm_position == "deepnorm":
            for block in self.blocks:
                block.deepnorm_init(deepnorm_beta(c.depth))

    @property
    def depth(self) -> int:
        return 2 + sum(block.path_layers for block in self.blocks)
