"""The per-layer table of ``depthlab inspect --layers``: each weight layer with its place along the depth."""

from __future__ import annotations

import torch
from torch import nn

from depthlab.diagnose.depth import _all_params_tracked
from depthlab.diagnose.graph import graph_depth
from depthlab.diagnose.measure import flop_counter
from depthlab.diagnose.weights import weight_layers, weight_of
from depthlab.models.params import count_params


def layer_table(model: nn.Module, example_input: torch.Tensor) -> list[dict]:
    """One row per weight layer in execution order: depth index, name, kind, params, output, FLOPs/sample."""
    layers = weight_layers(model)
    order, shapes = [], {}

    def tap(name):
        def hook(_m, _i, out):
            if name not in shapes:
                order.append(name)
                shapes[name] = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()

        return hook

    handles = [m.register_forward_hook(tap(n)) for n, m in layers.items()]
    try:
        with _all_params_tracked(model), torch.enable_grad(), flop_counter() as counter:
            leaf = example_input.detach().clone().requires_grad_(example_input.is_floating_point())
            depth = graph_depth(model(leaf), leaf).param_depth
    finally:
        for handle in handles:
            handle.remove()
    flops = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    prefix, batch = type(model).__name__, len(example_input)
    return [
        {
            "depth": depth.get(id(weight_of(layers[n])), 0),
            "name": n,
            "kind": type(layers[n]).__name__,
            "params": count_params(layers[n])[0],
            "output": shapes[n],
            "flops": flops.get(f"{prefix}.{n}", 0) / batch,
        }
        for n in order
    ]
