"""``watch``: gradient and activation flow per layer, against depth, around any training loop.

One row per recorded step x weight layer (a module owning a parameter of rank >= 2: Linear, Conv,
Embedding...), in forward execution order, with the layer's module name, its position in that order
(``layer``) and its index along the longest input -> output path (``depth``, 1-based; see ``graph.py``).
Columns:

- ``grad_norm``: L2 norm of the layer's weight gradient (the rank >= 2 weight only: a bias's gradient has
  another scale and would blur the depth trend), ``weight_norm``: L2 norm of that weight;
- ``update_ratio``: ||W_after - W_before|| / ||W_before|| over the optimizer step;
- ``out_mean``/``out_std``: the layer's output (pre-activation, He et al. 2016's "layer response");
- ``act_grad_rms``: RMS of dLoss/dh over the layer's output h (the backward signal that reaches the layer;
  dLoss/dW = dLoss/dh x input, so unlike ``grad_norm`` it does not depend on the layer's shape): the
  activation-gradient measure of vanishing/exploding gradients (Glorot & Bengio 2010; He et al. 2015);
- ``act_mean``/``act_std``, ``dead_frac``, ``saturated_frac``: the nonlinearity module that runs next, before
  the next weight layer (NaN when none does, e.g. a functional ``F.relu`` or the head); see
  ``layer_stats.py``.

When is a step over? Gradients must be read after backward (and AMP unscale, and DDP all-reduce) and before
the optimizer step and ``zero_grad``. Three ways, in order of preference:

1. ``fit(..., callbacks=[w])``: the engine calls ``on_backward`` at exactly that point and ``on_step`` after.
2. ``watch(model, optimizer=opt)``: optimizer step pre/post hooks. ``GradScaler.step`` unscales before calling
   ``optimizer.step``, and DDP finishes its all-reduce inside backward, so the pre hook sees final gradients.
3. A plain loop (forward, backward, ``optimizer.step()``, nothing else): global optimizer step hooks
   (``torch.optim.optimizer.register_optimizer_step_pre_hook``) end a step whenever an optimizer holding this
   model's weights steps. A step taking a closure (LBFGS) runs backward inside it, so that step is read after.
4. No torch optimizer (updates by hand): call ``w.step()`` after ``loss.backward()`` and before the update;
   the update ratio of that step is then measured at the next ``w.step()`` (or on exit).

When no step was seen at all, ``watch`` warns once (on exit, or when the table is read after a backward
reached the layers and no step ended) how to fix it, rather than leave an empty table unexplained; reading a
live watch before its first step does not warn.

Forward hooks exist only during recorded steps (attached when the previous step ends, removed once read), and
only grad-enabled forwards are measured (an evaluation pass in between is ignored). Statistics stay on the
device as tensors; the only host sync is when the table is read. Everything is removed on exit.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import torch
from torch import nn

from depthlab import atomic
from depthlab.diagnose import layer_stats
from depthlab.diagnose.graph import graph_depth
from depthlab.diagnose.weights import weight_layers, weight_of
from depthlab.errors import DepthlabError

FORWARD_COLUMNS = (
    "out_mean",
    "out_std",
    "act_mean",
    "act_std",
    "dead_frac",
    "saturated_frac",
    "act_grad_rms",
)
STEP_COLUMNS = ("grad_norm", "weight_norm", "update_ratio")
# what the hooks leave on the device (sums and counts); turned into FORWARD_COLUMNS when the table is read
DEVICE_STATS = ("out_sum", "out_norm", "act_sum", "act_norm", "alive", "saturated", "out_grad_norm")
HOST_COUNTS = ("out_count", "act_count", "units", "values")
COLUMNS = ("step", "layer", "depth", "name", "kind", *STEP_COLUMNS, *FORWARD_COLUMNS)
UNIT_LAST = (nn.Linear, nn.Bilinear, nn.Embedding)  # their units lie on the last dim; conv channels on dim 1


class Watch:
    """Records per-layer gradient/activation statistics every ``every`` steps; see the module docstring."""

    def __init__(self, model: nn.Module, every: int = 1, optimizer: torch.optim.Optimizer | None = None):
        if not isinstance(model, nn.Module):
            raise DepthlabError(f"watch(model={type(model).__name__}): expected a torch.nn.Module")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise DepthlabError(f"every={every!r}: must be an integer >= 1")
        self.model, self.every, self.optimizer = model, every, optimizer
        self.layers = weight_layers(model)
        if not self.layers:
            raise DepthlabError(
                f"watch: {type(model).__name__} has no weight layer (no parameter of rank >= 2)"
            )
        self._weights = {name: weight_of(m) for name, m in self.layers.items()}
        self.activations = {name: m for name, m in model.named_modules() if layer_stats.is_activation(m)}
        self.step_count = 0
        self.order: list[
            str
        ] = []  # weight layers in forward execution order (from the first recorded forward)
        self.depth_of: dict[str, int] = {}
        self._records: list[tuple[int, dict[str, list[torch.Tensor]]]] = []
        self._rows: list[dict] = []
        self._converted = 0  # records already turned into rows
        self._forward: dict[str, dict[str, torch.Tensor]] = {}
        self._current: tuple[str, int] | None = None  # last weight layer run, and its unit dim
        self._snapshot: tuple[dict, list[torch.Tensor], list[torch.Tensor]] | None = None
        self._forward_handles: list = []
        self._optimizer_handles: list = []
        self._active = False
        self._external_steps = False  # True when fit callbacks or optimizer hooks end each step
        self._auto_steps = 0  # steps ended by the global optimizer hooks of a plain loop
        self._warned = False

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> Watch:
        self.attach()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            self._warned = True  # an error is on its way up: no warning on top of it
        self.detach()

    def attach(self) -> None:
        """Start watching (``with watch(...)`` does this)."""
        if self._active:
            return
        self._active = True
        if self.optimizer is not None:
            self._external_steps = True
            self._optimizer_handles = [
                self.optimizer.register_step_pre_hook(lambda *_: self._grads_ready()),
                self.optimizer.register_step_post_hook(lambda *_: self._update_done()),
            ]
        elif not self._external_steps:
            self._hook_any_optimizer()
        self._schedule()

    def _hook_any_optimizer(self) -> None:
        """A plain loop: end a step at any ``optimizer.step()`` over this model's weights (global hooks)."""
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        mine = {id(p) for p in self.model.parameters()}

        def owns(optimizer) -> bool:
            return any(id(p) in mine for group in optimizer.param_groups for p in group["params"])

        def closure(args, kwargs) -> bool:  # args[0] is the optimizer itself
            return (len(args) > 1 and args[1] is not None) or kwargs.get("closure") is not None

        def pre(optimizer, args, kwargs) -> None:
            if owns(optimizer) and not closure(args, kwargs):
                self._grads_ready()

        def post(optimizer, args, kwargs) -> None:
            if not owns(optimizer):
                return
            self._auto_steps += 1
            if closure(args, kwargs):  # backward ran inside step(): gradients are readable only now
                self._grads_ready()
                self._snapshot = None  # the weights already moved: no update ratio for this step
            self._update_done()

        self._optimizer_handles = [
            register_optimizer_step_pre_hook(pre),
            register_optimizer_step_post_hook(post),
        ]

    def _remove_optimizer_hooks(self) -> None:
        for handle in self._optimizer_handles:
            handle.remove()
        self._optimizer_handles = []

    def _steps_missed(self) -> bool:
        """While live, a sign that steps run unseen: a backward reached the layers and no step ended. A table
        read before the first step (as a live page does) is empty for no fault; fit callbacks and
        ``optimizer=`` always see their steps."""
        return not self._external_steps and any("out_grad_norm" in r for r in self._forward.values())

    def _warn_if_empty(self) -> None:
        if self._records or self._warned:
            return
        self._warned = True
        warnings.warn(NOTHING_RECORDED.format(model=type(self.model).__name__), RuntimeWarning, stacklevel=3)

    def detach(self) -> None:
        """Stop watching: fill the last update ratio and remove every hook."""
        if not self._external_steps:
            self._fill_update()
        self._remove_forward_hooks()
        self._remove_optimizer_hooks()
        if self._active:
            self._warn_if_empty()
        self._active = False

    # -- as a depthlab.train.fit callback --------------------------------------------------------------------
    def on_train_start(self, state) -> None:
        if self.optimizer is None:
            self._remove_optimizer_hooks()  # the engine's callbacks end the steps, not the global hooks
        self._external_steps = True
        self.attach()

    def on_backward(self, state) -> None:
        self._grads_ready()

    def on_step(self, state) -> None:
        self._update_done()

    def on_epoch(self, state) -> None: ...

    def on_train_end(self, state) -> None:
        self.detach()

    # -- a user's own loop -----------------------------------------------------------------------------------
    def step(self) -> None:
        """End a step in a loop without optimizer hooks: after ``backward()``, before ``optimizer.step()``."""
        if self._external_steps or self._auto_steps:
            raise DepthlabError(
                "watch.step(): steps already end through the optimizer hooks or fit callbacks"
            )
        self._remove_optimizer_hooks()  # the user ends steps by hand: the global hooks would count them twice
        self._fill_update()
        self._grads_ready()
        self._advance()

    # -- step machinery --------------------------------------------------------------------------------------
    def recording(self) -> bool:
        """Whether the current step is recorded."""
        return self._active and self.step_count % self.every == 0

    def _grads_ready(self) -> None:
        if not self.recording():
            return
        if (self.step_count + 1) % self.every:  # keep them when the next step is recorded too (every=1)
            self._remove_forward_hooks()
        names = self.order or list(self.layers)
        weights = [self._weights[n] for n in names]
        nan = torch.full((), math.nan, device=weights[0].device)
        grads = [w.grad.detach() for w in weights if w.grad is not None]
        grad_norms = iter(torch._foreach_norm(grads) if grads else [])
        columns = {
            "grad_norm": [next(grad_norms) if w.grad is not None else nan for w in weights],
            "weight_norm": torch._foreach_norm([w.detach() for w in weights]),
            "update_ratio": [nan] * len(weights),
        }
        self._count_alive(names)
        for key in DEVICE_STATS:
            columns[key] = [self._forward.get(n, {}).get(key, nan) for n in names]
        for key in HOST_COUNTS:
            columns[key] = [self._forward.get(n, {}).get(key, math.nan) for n in names]
        columns["_names"] = names
        self._records.append((self.step_count, columns))
        before = torch._foreach_mul([w.detach() for w in weights], 1.0)  # one copy op for all weights
        self._snapshot = (columns, weights, before)
        self._forward = {}

    def _count_alive(self, names: list[str]) -> None:
        with_peaks = [n for n in names if "peaks" in self._forward.get(n, {})]
        counts = layer_stats.alive_counts([self._forward[n].pop("peaks") for n in with_peaks])
        for name, count in zip(with_peaks, counts, strict=True):
            self._forward[name]["alive"] = count

    def _fill_update(self) -> None:
        if self._snapshot is None:
            return
        columns, weights, before = self._snapshot
        deltas = torch._foreach_sub([w.detach() for w in weights], before)
        norms = torch._foreach_norm(deltas)
        columns["update_ratio"] = torch._foreach_div(norms, columns["weight_norm"])
        self._snapshot = None

    def _update_done(self) -> None:
        self._fill_update()
        self._advance()

    def _advance(self) -> None:
        self.step_count += 1
        self._schedule()

    def _schedule(self) -> None:
        if self.recording() and not self._forward_handles:
            self._attach_forward_hooks()

    # -- forward hooks (recorded steps only) -----------------------------------------------------------------
    def _attach_forward_hooks(self) -> None:
        handles = [m.register_forward_hook(self._layer_hook(n, m)) for n, m in self.layers.items()]
        handles += [m.register_forward_hook(self._activation_hook(m)) for m in self.activations.values()]
        if not self.depth_of:
            handles.append(self.model.register_forward_hook(self._depth_hook))
        self._forward_handles = handles

    def _remove_forward_hooks(self) -> None:
        for handle in self._forward_handles:
            handle.remove()
        self._forward_handles = []

    def _layer_hook(self, name: str, module: nn.Module):
        unit_dim = -1 if isinstance(module, UNIT_LAST) else 1

        def hook(_module, _inputs, output):
            if not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
                return
            if name not in self.order and not self.depth_of:
                self.order.append(name)
            total, norm, count = layer_stats.moments(output)
            record = {"out_sum": total, "out_norm": norm, "out_count": count}
            self._forward[name] = record
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
            record = self._forward.setdefault(name, {})
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

    # -- the table -------------------------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict]:
        """One dict per recorded step x layer (steps whose update is still pending show it as NaN)."""
        if self._active and self._steps_missed():
            self._warn_if_empty()
        ready = self._records if self._snapshot is None else self._records[:-1]
        if len(ready) > self._converted:
            self._convert(ready[self._converted :])
        pending = [] if self._snapshot is None else self._as_rows([self._records[-1]])
        return self._rows + pending

    def _convert(self, records) -> None:
        self._rows += self._as_rows(records)
        self._converted += len(records)

    def _as_rows(self, records) -> list[dict]:
        numeric = STEP_COLUMNS + DEVICE_STATS
        stacked = torch.stack([torch.stack([torch.stack(c[k]).float() for k in numeric]) for _, c in records])
        values = stacked.cpu().tolist()  # the one host sync: (steps, columns, layers)
        rows = []
        for (step, columns), table in zip(records, values, strict=True):
            for i, name in enumerate(columns["_names"]):
                raw = {k: table[j][i] for j, k in enumerate(numeric)} | {
                    k: columns[k][i] for k in HOST_COUNTS
                }
                row = {
                    "step": step,
                    "layer": i,
                    "depth": self.depth_of.get(name, 0),
                    "name": name,
                    "kind": type(self.layers[name]).__name__,
                }
                rows.append(row | {k: raw[k] for k in STEP_COLUMNS} | _forward_stats(raw))
        return rows

    def columns(self) -> dict[str, list]:
        """The table as one list per column (pandas-free; ``pandas.DataFrame(w.columns())`` works too)."""
        rows = self.rows
        return {k: [r[k] for r in rows] for k in COLUMNS}

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (one row per step x layer) and return the path."""
        return write_csv(self.rows, path)


def _forward_stats(raw: dict) -> dict:
    """Means, stds and fractions from the sums and counts the hooks recorded."""
    out_mean, out_std = layer_stats.mean_std(raw["out_sum"], raw["out_norm"], raw["out_count"])
    act_mean, act_std = layer_stats.mean_std(raw["act_sum"], raw["act_norm"], raw["act_count"])
    return {
        "out_mean": out_mean,
        "out_std": out_std,
        "act_mean": act_mean,
        "act_std": act_std,
        "dead_frac": 1.0 - raw["alive"] / raw["units"],
        "saturated_frac": raw["saturated"] / raw["values"],
        "act_grad_rms": raw["out_grad_norm"] / math.sqrt(raw["out_count"]),
    }


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """Write watch rows as CSV with the standard columns; returns the path."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    return atomic.write_with(path, write)


NOTHING_RECORDED = (
    "watch recorded nothing: no optimizer.step() over the weights of {model} was seen (an optimizer that is "
    "not a torch.optim.Optimizer, or updates by hand). Call w.step() after loss.backward() and before the "
    "update, or pass watch(model, optimizer=opt), or fit(..., callbacks=[w])"
)


def watch(model: nn.Module, every: int = 1, optimizer: torch.optim.Optimizer | None = None) -> Watch:
    """``with watch(model, every=k) as w:`` around any training loop; ``w.rows`` is the tidy table."""
    return Watch(model, every=every, optimizer=optimizer)
