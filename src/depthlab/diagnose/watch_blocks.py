"""``watch``'s per-block table on a transformer: what reaches each block's output, and what the block does to
its tokens, one row per recorded step x block.

- ``norm_position``: the stack's (``pre``, ``post``, ``deepnorm`` or ``none``), read from its blocks.
- ``grad_rms``: the RMS of dLoss/dh over the block's output h, the residual stream (or, in a post-LN stack,
  the normalized stream) that the next block reads. Read block by block it is the gradient flow of the
  stack: Xiong et al. 2020 (arXiv 2002.04745) show that at init a post-LN stack's gradient at the top is not
  damped, while a pre-LN stack's shrinks as 1/sqrt(depth).
- ``attn_entropy``: the mean entropy of the block's attention weights over heads, queries and sequences, in
  nats, and ``attn_entropy_uniform``, the same for uniform attention (``log T``, or its causal mean); their
  ratio falling toward 0 is Zhai et al. 2023's entropy collapse (arXiv 2303.06296; ``attention.py``).
- ``residual_in``, ``residual_out``: the relative distance from rank one of the tokens entering and leaving
  the block (``rank.relative_residual``; Dong et al. 2021, arXiv 2103.03404): near 0 at the last block's
  output is every token the same vector.

The numbers stay on the device until the table is read, like the per-layer table's. Only models whose
``blocks`` are ``models.transformer_block.Block`` get this table (``BlockCapture.of``): the per-layer table of
every other model is unchanged, and costs nothing more.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from depthlab.diagnose import layer_stats
from depthlab.diagnose.attention import block_attention_entropy, uniform_entropy
from depthlab.diagnose.rank import relative_residual
from depthlab.models.transformer_block import Block

BLOCK_COLUMNS = (
    "step",
    "block",
    "name",
    "norm_position",
    "grad_rms",
    "attn_entropy",
    "attn_entropy_uniform",
    "residual_in",
    "residual_out",
)
DEVICE_COLUMNS = ("grad_norm", "attn_entropy", "residual_in", "residual_out")


def _residual(h: torch.Tensor) -> torch.Tensor:
    return relative_residual(h.detach().float()).mean()


class BlockCapture:
    """Forward hooks on a transformer's blocks (and their attention) during a recorded step."""

    def __init__(self, blocks: nn.Sequential):
        self.blocks = blocks
        self.names = [f"blocks.{i}" for i in range(len(blocks))]
        first = blocks[0].attn or blocks[0].mlp
        # pre, post, deepnorm or none: what the checks judge depends on it
        self.norm_position = first.position
        self._stats: dict[int, dict] = {}
        self._handles: list = []
        self.records: list[tuple[int, dict[int, dict]]] = []
        self._rows: list[dict] = []
        self._converted = 0

    @classmethod
    def of(cls, model: nn.Module) -> BlockCapture | None:
        """A capture for ``model`` when its ``blocks`` are transformer blocks, else None."""
        blocks = getattr(model, "blocks", None)
        if not isinstance(blocks, (nn.Sequential, nn.ModuleList)) or len(blocks) == 0:
            return None
        return cls(blocks) if all(isinstance(b, Block) for b in blocks) else None

    def attach(self) -> None:
        if self._handles:
            return
        for i, block in enumerate(self.blocks):
            self._handles += [
                block.register_forward_pre_hook(self._input_hook(i)),
                block.register_forward_hook(self._output_hook(i)),
            ]
            if block.attn is not None:
                self._handles.append(block.attn.f.register_forward_hook(self._attention_hook(i)))

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _input_hook(self, i: int):
        def hook(_module, inputs) -> None:
            if torch.is_grad_enabled() and isinstance(inputs[0], torch.Tensor):
                self._stats[i] = {"residual_in": _residual(inputs[0])}

        return hook

    def _output_hook(self, i: int):
        def hook(_module, _inputs, output) -> None:
            if not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
                return
            record = self._stats.setdefault(i, {})
            record |= {"residual_out": _residual(output), "count": output.numel()}
            if output.requires_grad:  # dLoss/dh at the block's output, read by backward
                output.register_hook(lambda grad: record.update(grad_norm=layer_stats.grad_norm(grad)))

        return hook

    def _attention_hook(self, i: int):
        def hook(module, inputs, _output) -> None:
            if torch.is_grad_enabled() and isinstance(inputs[0], torch.Tensor):
                record = self._stats.setdefault(i, {})
                record["attn_entropy"] = block_attention_entropy(module, inputs[0])
                record["attn_entropy_uniform"] = uniform_entropy(inputs[0].shape[1], module.causal)

        return hook

    def take(self, step: int) -> None:
        """Keep what the hooks captured during ``step``, and start afresh."""
        if self._stats:
            self.records.append((step, self._stats))
        self._stats = {}

    def rows(self) -> list[dict]:
        """One dict per recorded step x block, in ``BLOCK_COLUMNS``; each record is read once."""
        if len(self.records) > self._converted:
            self._rows += [
                r for step, stats in self.records[self._converted :] for r in self._as_rows(step, stats)
            ]
            self._converted = len(self.records)
        return self._rows

    def _as_rows(self, step: int, stats: dict[int, dict]) -> list[dict]:
        device = next(v.device for s in stats.values() for v in s.values() if isinstance(v, torch.Tensor))
        nan = torch.tensor(math.nan, device=device)
        order = sorted(stats)
        values = torch.stack(
            [torch.stack([stats[i].get(k, nan).float() for k in DEVICE_COLUMNS]) for i in order]
        ).tolist()  # the one host sync for this step
        rows = []
        for i, (grad, ent, res_in, res_out) in zip(order, values, strict=True):
            count = stats[i].get("count", math.nan)
            rows.append(
                {
                    "step": step,
                    "block": i,
                    "name": self.names[i],
                    "norm_position": self.norm_position,
                    "grad_rms": grad / math.sqrt(count),
                    "attn_entropy": ent,
                    "attn_entropy_uniform": stats[i].get("attn_entropy_uniform", math.nan),
                    "residual_in": res_in,
                    "residual_out": res_out,
                }
            )
        return rows
