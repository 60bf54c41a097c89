"""What a *weight layer* is, in one place: a module owning a parameter of rank >= 2 (Linear, Conv*, Bilinear,
Embedding, attention and RNN weight matrices); norms, PReLU slopes and biases are rank 1 and do not count.

The same rule counts depth in ``graph.py`` (an autograd op consuming a rank >= 2 parameter). ``watch``, the
divergence locator, the per-layer table and the studies list weight layers through here; ``execution_order``
puts them in the order a forward pass runs them, which is the order of the depth axis (module registration
order is not: a model may define its head before its blocks).
"""

from __future__ import annotations

import torch
from torch import nn


def weight_of(module: nn.Module) -> nn.Parameter | None:
    """The module's own weight: ``weight`` if it has rank >= 2, else its first own rank >= 2 parameter."""
    weight = getattr(module, "weight", None)
    if isinstance(weight, nn.Parameter) and weight.dim() >= 2:
        return weight
    own = [p for p in module.parameters(recurse=False) if p.dim() >= 2]
    return own[0] if own else None


def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every weight layer of ``model`` by module name, in registration order."""
    return {name: m for name, m in model.named_modules() if weight_of(m) is not None}


@torch.no_grad()
def execution_order(model: nn.Module, *inputs: torch.Tensor) -> list[tuple[str, nn.Module]]:
    """The weight layers in the order one forward pass on ``inputs`` first runs them (layers it skips are left
    out); the model's train/eval mode is kept, so batch-norm statistics move as in any forward."""
    layers, order = weight_layers(model), []

    def hook(name: str):
        return lambda *_: order.append(name) if name not in order else None

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    try:
        model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return [(name, layers[name]) for name in order]
