"""Attention entropy: how spread out each query's attention is (Zhai et al. 2023, "Stabilizing transformer
training by preventing attention entropy collapse", arXiv 2303.06296).

The entropy of a query's attention weights p over the keys it sees is ``-sum p log p``: ``log n`` for uniform
attention over n keys, 0 when all of it goes to one key. Zhai et al. find that unstable runs (a high learning
rate, no warm-up) drive the attention entropy of some layer toward 0 early in training, and that the loss
then spikes or diverges: the collapse comes first, so it is the sign to read.

depthlab's attention calls ``F.scaled_dot_product_attention``, which never forms the weights; ``watch``
recomputes them from q and k here, only on the steps it records, without gradient, so training is untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from depthlab.errors import DepthlabError


def attention_weights(q: torch.Tensor, k: torch.Tensor, causal: bool) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(d)) for ``q``, ``k`` of shape (..., T, d), as scaled_dot_product_attention forms it
    (a causal mask hides the keys after each query): shape (..., T, T)."""
    if q.ndim < 2 or q.shape != k.shape:
        raise DepthlabError(f"q {tuple(q.shape)}, k {tuple(k.shape)}: expected equal shapes (..., tokens, d)")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, T)
    if causal:
        length = q.shape[-2]
        hidden = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(hidden, -math.inf)
    return scores.softmax(dim=-1)


def entropy(p: torch.Tensor) -> torch.Tensor:
    """``-sum p log p`` over the last dim, in nats (a zero weight adds 0, as its limit does)."""
    return -torch.special.xlogy(p, p).sum(dim=-1)


def uniform_entropy(length: int, causal: bool) -> float:
    """The mean entropy of uniform attention over the keys each query sees: ``log T`` when every query sees
    all T keys; the mean of ``log(i + 1)`` over the T queries under a causal mask."""
    if causal:
        return math.lgamma(length + 1) / length  # (1/T) sum_i log(i + 1) = log(T!) / T
    return math.log(length)


def mean_entropy(q: torch.Tensor, k: torch.Tensor, causal: bool) -> torch.Tensor:
    """The mean attention entropy over every query of every head and sequence of ``q``, ``k`` (B, H, T, d)."""
    q, k = q.detach().float(), k.detach().float()
    return entropy(attention_weights(q, k, causal)).mean()


def split_heads(qkv: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """q and k of shape (B, H, T, C/H) from the fused projection ``qkv`` (B, T, 3C), as ``Attention`` splits
    them."""
    batch, length, three_width = qkv.shape
    q, k, _ = qkv.split(three_width // 3, dim=2)
    return tuple(t.reshape(batch, length, heads, -1).transpose(1, 2) for t in (q, k))


def block_attention_entropy(attention, x: torch.Tensor) -> torch.Tensor:
    """The mean attention entropy of a ``models.transformer_block.Attention`` on its input ``x`` (B, T, C),
    recomputed without gradient (a functional call: the module's own hooks do not fire)."""
    with torch.no_grad():
        qkv = F.linear(x.detach(), attention.qkv.weight, attention.qkv.bias)  # (B, T, 3C)
        q, k = split_heads(qkv, attention.heads)
        return mean_entropy(q, k, attention.causal)
