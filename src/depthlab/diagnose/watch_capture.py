"""What ``watch``'s forward hooks capture during one recorded step, per weight layer, on the device.

Each weight layer's output moments (``out_*``) and the RMS of the gradient that backward sends to it; the
nonlinearity that runs next, before the next weight layer, lends its moments (``act_*``) and its dead or
saturated units to that layer; and, once, from the first training forward, the layers' execution order and
their index along the longest input -> output path (``graph.py``). Only grad-enabled forwards are measured (an
evaluation pass in between is ignored). The hooks exist only while attached: ``Watch`` attaches them for a
recorded step and removes them once the step's gradients are read.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from depthlab.diagnose import layer_stats
from depthlab.diagnose.graph import graph_depth
from depthlab.diagnose.weights import weight_of

# what the hooks leave on the device (sums and counts); turned into the table's columns when it is read
DEVICE_STATS = ("out_sum", "out_norm", "act_sum", "act_norm", "alive", "saturated", "out_grad_norm")
HOST_COUNTS = ("out_count", "act_count", "units", "values")
UNIT_LAST = (nn.Linear, nn.Bilinear, nn.Embedding)  # their units lie on the last dim; conv channels on dim 1


class LayerCapture:
    """Forward hooks on the weight layers and the nonlinearities; ``take`` hands over a step's numbers."""

    def __init__(self, model: nn.Module, layers: dict[str, nn.Module]):
        self.model, self.layers = model, layers
        self.activations = {name: m for name, m in model.named_modules() if layer_stats.is_activation(m)}
        self.order: list[
            str
        ] = []  # weight layers in forward execution order (from the first recorded forward)
        self.depth_of: dict[str, int] = {}
        self._stats: dict[str, dict[str, torch.Tensor]] = {}
        self._current: tuple[str, int] | None = None  # last weight layer run, and its unit dim
        self._handles: list = []

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> None:
        handles = [m.register_forward_hook(self._layer_hook(n, m)) for n, m in self.layers.items()]
        handles += [m.register_forward_hook(self._activation_hook(m)) for m in self.activations.values()]
        if not self.depth_of:
            handles.append(self.model.register_forward_hook(self._depth_hook))
        self._handles = handles

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def backward_seen(self) -> bool:
        """Whether a backward reached a captured layer output since the last ``take``."""
        return any("out_grad_norm" in record for record in self._stats.values())

    def take(self, names: list[str], nan: torch.Tensor) -> dict[str, list]:
        """The captured statistics of ``names`` as one list per column (``nan`` where none); starts afresh."""
        self._count_alive(names)
        columns = {key: [self._stats.get(n, {}).get(key, nan) for n in names] for key in DEVICE_STATS}
        columns |= {key: [self._stats.get(n, {}).get(key, math.nan) for n in names] for key in HOST_COUNTS}
        self._stats = {}
        return columns

    def _count_alive(self, names: list[str]) -> None:
        with_peaks = [n for n in names if "peaks" in self._stats.get(n, {})]
        counts = layer_stats.alive_counts([self._stats[n].pop("peaks") for n in with_peaks])
        for name, count in zip(with_peaks, counts, strict=True):
            self._stats[name]["alive"] = count

    def _layer_hook(self, name: str, module: nn.Module):
        unit_dim = -1 if isinstance(module, UNIT_LAST) else 1

        def hook(_module, _inputs, output):
            if not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
                return
            if name not in self.order and not self.depth_of:
                self.order.append(name)
            total, norm, count = layer_stats.moments(output)
            record = {"out_sum": total, "out_norm": norm, "out_count": count}
            self._stats[name] = record
            self._current = (name, unit_dim)
            if output.requires_grad:  # the gradient reaching this output, read by backward (act_grad_rms)
                output.register_hook(lambda grad: record.update(out_grad_norm=layer_stats.grad_norm(grad)))

        return hook

    def _activation_hook(self, module: nn.Module):
        bounds = layer_stats.output_bounds(module)

        def hook(_module, _inputs, output):
            if not torch.is_grad_enabled() or self._current is None or not isinstance(output, torch.Tensor):
                return
            name, unit_dim = self._current
            record = self._stats.setdefault(name, {})
            record["act_sum"], record["act_norm"], record["act_count"] = layer_stats.moments(output)
            if bounds is None:
                record["peaks"] = layer_stats.unit_peaks(output, unit_dim)
                record["units"] = len(record["peaks"])
            else:
                record["saturated"], record["values"] = layer_stats.saturated_count(output, bounds)

        return hook

    def _depth_hook(self, _module, _inputs, output) -> None:
        """Once: place each weight layer along the longest path, from a training forward's graph."""
        self._current = None
        if not torch.is_grad_enabled() or not isinstance(output, torch.Tensor) or output.grad_fn is None:
            return
        by_param = graph_depth(output).param_depth
        self.depth_of = {n: by_param.get(id(weight_of(m)), 0) for n, m in self.layers.items()}
