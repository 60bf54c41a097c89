"""How far a stack's token representations are from rank one, block by block (Dong, Cordonnier & Loukas 2021,
"Attention is not all you need: pure attention loses rank doubly exponentially with depth", arXiv 2103.03404).

Their residual of a sequence's representations ``X`` (T tokens x D features) is ``res(X) = X - 1 xᵀ`` for the
token-constant matrix closest to ``X``: what is left once every token is replaced by one shared vector. Pure
self-attention drives it to zero doubly exponentially with depth (every token becomes the same average); skip
connections and MLPs counteract it. Here the distance is Frobenius, whose closest ``1 xᵀ`` is the tokens'
mean (Dong et al. use a composite l1/l-inf norm for their bounds; the collapse reads the same), relative to
``‖X‖`` so that layers of different scale compare: 0 is rank one, and tokens independent of each other give
about 1.
"""

from __future__ import annotations

import torch
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.models.base import forward_hooked


def relative_residual(x: torch.Tensor) -> torch.Tensor:
    """``‖X - mean over tokens‖ / ‖X‖`` for each sequence of ``x`` (..., T, D): shape ``x.shape[:-2]``."""
    if x.ndim < 2:
        raise DepthlabError(f"representations of shape {tuple(x.shape)}: expected (..., tokens, features)")
    residual = x - x.mean(dim=-2, keepdim=True)
    return residual.flatten(-2).norm(dim=-1) / x.flatten(-2).norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)


def block_residuals(model: nn.Module, x: torch.Tensor) -> list[float]:
    """The mean relative residual of the representations entering the first block and leaving each block of
    ``model.blocks`` (a transformer's), over the sequences of ``x``, in eval mode: ``depth + 1`` numbers."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or len(blocks) == 0:
        raise DepthlabError(f"{type(model).__name__}: no blocks to read (expected model.blocks)")
    seen: list[float] = []

    def record(_module, _inputs, output) -> None:
        seen.append(float(relative_residual(output.float()).mean()))

    first = blocks[0].register_forward_pre_hook(lambda _m, inputs: record(None, None, inputs[0]))
    forward_hooked(model, x, [first, *(block.register_forward_hook(record) for block in blocks)])
    return seen
