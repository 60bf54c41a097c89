"""Gradient against depth by block: the watch rows of one recorded step, grouped by the block they sit in.

A transformer block holds four weight layers of different shapes (q/k/v, out, fc1, fc2), so ``‖∂L/∂W‖`` per
layer zigzags with the shapes and hides the trend along depth. The RMS of ``∂L/∂W`` over all the weights of a
block, ``sqrt(Σ‖∂L/∂W_l‖² / Σ n_l)`` over its layers ``l`` of ``n_l`` weights, is one number per block that
does not depend on how the block splits its weights, drawn against the block's index (1 = nearest the input).
"""

from __future__ import annotations

import math
import re
from typing import Any

from torch import nn

from depthlab.diagnose.weights import weight_of
from depthlab.play.views import short

BLOCK_NAME = re.compile(r"^blocks\.(\d+)\.")  # models keep their stack of blocks as ``self.blocks``


def weight_sizes(layers: dict[str, nn.Module]) -> dict[str, int]:
    """How many weights each watched layer owns (the ones ``grad_norm`` is the norm of)."""
    return {name: weight_of(module).numel() for name, module in layers.items()}


def block_of(name: str) -> int | None:
    """The block index in a layer's module name (``blocks.3.mlp.f.fc1`` -> 3), None outside the blocks."""
    found = BLOCK_NAME.match(name)
    return int(found.group(1)) if found else None


def block_view(rows: list[dict], sizes: dict[str, int]) -> dict[str, Any] | None:
    """One recorded step's rows as ``index`` (1-based block numbers) and ``grad_rms`` (the RMS of ∂L/∂W over
    each block's weights, 4 digits; None where it is not finite); None when no row sits in a block."""
    squares: dict[int, float] = {}
    counts: dict[int, int] = {}
    for row in rows:
        block = block_of(row["name"])
        if block is None:
            continue
        squares[block] = squares.get(block, 0.0) + row["grad_norm"] ** 2
        counts[block] = counts.get(block, 0) + sizes[row["name"]]
    if not squares:
        return None
    order = sorted(squares)
    rms = [short(math.sqrt(squares[b] / counts[b])) for b in order]  # NaN or inf: None
    return {"index": [b + 1 for b in order], "grad_rms": rms}
