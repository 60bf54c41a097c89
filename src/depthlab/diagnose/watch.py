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
  the next weight layer (NaN when none does, e.g. a functional ``F.relu`` or the head); see ``stats.py``.

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

import warnings
from pathlib import Path

import torch
from torch import nn

from depthlab.diagnose.sink_feed import SinkFeed
from depthlab.diagnose.sinks import Sink
from depthlab.diagnose.watch_blocks import BLOCK_COLUMNS, BlockCapture
from depthlab.diagnose.watch_capture import LayerCapture
from depthlab.diagnose.watch_steps import OptimizerSteps
from depthlab.diagnose.watch_table import (
    COLUMNS,
    FORWARD_COLUMNS,
    STEP_COLUMNS,
    StepRecords,
    nan_like,
    write_csv,
)
from depthlab.diagnose.weights import weight_layers, weight_of
from depthlab.errors import DepthlabError
from depthlab.page import html_table

__all__ = ["BLOCK_COLUMNS", "COLUMNS", "FORWARD_COLUMNS", "STEP_COLUMNS", "Watch", "watch", "write_csv"]
# what a notebook shows of a step (the whole row is in ``rows``)
SUMMARY_COLUMNS = ("layer", "depth", "name", "kind", "grad_norm", "act_grad_rms", "update_ratio", "dead_frac")


class Watch:
    """Records per-layer gradient/activation statistics every ``every`` steps; see the module docstring.

    Three parts do the work: ``capture`` (the forward hooks of a recorded step), ``records`` (the recorded
    steps and the table they make) and ``steps`` (the optimizer hooks that end a step). The watch itself
    schedules them: which step is recorded, when hooks come and go, and the ways a step can end; and hands
    each recorded step to ``feed`` (``log_to``, see ``sinks.py``) once its update ratio is known."""

    def __init__(
        self,
        model: nn.Module,
        every: int = 1,
        optimizer: torch.optim.Optimizer | None = None,
        log_to: str | Sink | None = None,
    ):
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
        self.capture = LayerCapture(model, self.layers)
        self.block_capture = BlockCapture.of(model)  # a transformer's per-block table; None for other models
        self.records = StepRecords({name: weight_of(m) for name, m in self.layers.items()}, self.layers)
        self.steps = OptimizerSteps(self._grads_ready, self._update_done)
        self.step_count = 0
        self._active = False
        self._external_steps = False  # True when fit callbacks or optimizer hooks end each step
        self._warned = False
        self.feed = SinkFeed(log_to) if log_to is not None else None  # last: bad input opens nothing

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
            self.steps.hook(self.optimizer)
        elif not self._external_steps:
            self.steps.hook_any(self.model)
        self._schedule()

    def detach(self) -> None:
        """Stop watching: fill the last update ratio and remove every hook."""
        if not self._external_steps:
            self.records.fill_update()
        self._remove_hooks()
        self.steps.remove()
        if self._active:
            self._warn_if_empty()
            self._close_feed()
        self._active = False

    def _warn_if_empty(self) -> None:
        if self.records.records or self._warned:
            return
        self._warned = True
        warnings.warn(NOTHING_RECORDED.format(model=type(self.model).__name__), RuntimeWarning, stacklevel=3)

    # -- as a depthlab.train.fit callback --------------------------------------------------------------------
    def on_train_start(self, state) -> None:
        if self.optimizer is None:
            self.steps.remove()  # the engine's callbacks end the steps, not the global hooks
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
        if self._external_steps or self.steps.seen:
            raise DepthlabError(
                "watch.step(): steps already end through the optimizer hooks or fit callbacks"
            )
        self.steps.remove()  # the user ends steps by hand: the global hooks would count them twice
        self.records.fill_update()
        self._feed_complete()
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
            self._remove_hooks()
        names = self.capture.order or list(self.layers)
        captured = self.capture.take(names, nan_like(self.records.weights[names[0]]))
        self.records.record(self.step_count, names, captured)
        if self.block_capture is not None:
            self.block_capture.take(self.step_count)

    def _update_done(self, moved_before_read: bool = False) -> None:
        if moved_before_read:  # a closure step: the weights moved before its gradients could be read
            self.records.forget_update()
        self.records.fill_update()
        self._feed_complete()
        self._advance()

    def _advance(self) -> None:
        self.step_count += 1
        self._schedule()

    def _schedule(self) -> None:
        if self.recording() and not self.capture.attached:
            self.capture.attach()
            if self.block_capture is not None:
                self.block_capture.attach()

    def _remove_hooks(self) -> None:
        self.capture.remove()
        if self.block_capture is not None:
            self.block_capture.remove()

    # -- the sink --------------------------------------------------------------------------------------------
    def _feed_complete(self) -> None:
        if self.feed is not None:
            self.feed.send_complete(self.records, self.capture.depth_of)

    def _close_feed(self) -> None:
        if self.feed is not None:
            self.feed.close(self.rows)
            self.feed = None

    # -- the table -------------------------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict]:
        """One dict per recorded step x layer (steps whose update is still pending show it as NaN)."""
        if self._active and self._steps_missed():
            self._warn_if_empty()
        return self.records.rows(self.capture.depth_of)

    @property
    def block_rows(self) -> list[dict]:
        """A transformer's per-block table (``watch_blocks.py``): one dict per recorded step x block, with the
        dLoss/dh RMS at the block's output, its attention entropy and its tokens' distance from rank one;
        empty for a model whose blocks are not transformer blocks."""
        return self.block_capture.rows() if self.block_capture is not None else []

    def _steps_missed(self) -> bool:
        """While live, a sign that steps run unseen: a backward reached the layers and no step ended. A table
        read before the first step (as a live page does) is empty for no fault; fit callbacks and
        ``optimizer=`` always see their steps."""
        return not self._external_steps and self.capture.backward_seen()

    def columns(self) -> dict[str, list]:
        """The table as one list per column (pandas-free; ``pandas.DataFrame(w.columns())`` works too)."""
        rows = self.rows
        return {k: [r[k] for r in rows] for k in COLUMNS}

    def to_pandas(self):
        """The table as a ``pandas.DataFrame``, one row per recorded step x layer, in ``COLUMNS`` order."""
        import pandas as pd  # a noticeable part of a second to import; only this method needs it

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def _repr_html_(self) -> str:
        """In a notebook: the last recorded step, one row per layer, and the gradient flow of every step."""
        rows = self.rows
        if not rows:
            return "<p>watch: no step recorded yet</p>"
        from depthlab.diagnose.plots import gradient_flow_html  # matplotlib only when a notebook asks

        last = rows[-1]["step"]
        cells = [[row[c] for c in SUMMARY_COLUMNS] for row in rows if row["step"] == last]
        caption = f"watch, step {last} (of {len(self.records.records)} recorded)"
        return html_table(SUMMARY_COLUMNS, cells, caption) + gradient_flow_html(rows)

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (one row per step x layer) and return the path."""
        return write_csv(self.rows, path)


NOTHING_RECORDED = (
    "watch recorded nothing: no optimizer.step() over the weights of {model} was seen (an optimizer that is "
    "not a torch.optim.Optimizer, or updates by hand). Call w.step() after loss.backward() and before the "
    "update, or pass watch(model, optimizer=opt), or fit(..., callbacks=[w])"
)


def watch(
    model: nn.Module,
    every: int = 1,
    optimizer: torch.optim.Optimizer | None = None,
    log_to: str | Sink | None = None,
) -> Watch:
    """``with watch(model, every=k) as w:`` around any training loop; ``w.rows`` is the tidy table; with
    ``log_to="tensorboard:DIR"`` or ``"wandb[:PROJECT]"`` it is charted there too (``sinks.py``)."""
    return Watch(model, every=every, optimizer=optimizer, log_to=log_to)
