"""A PyTorch Lightning callback: depthlab's per-layer watch table and the doctor's verdicts from a Trainer.

Optional: ``pip install 'depthlab[lightning]'``. ``Trainer(callbacks=[DepthlabCallback(every=10)])``; after
``fit`` the callback holds ``watch`` (the :class:`~depthlab.diagnose.watch.Watch`, ``rows`` its table) and
``verdicts`` (``depthlab.diagnose.diagnose(watch)``), and prints both unless ``verbose=False``. With
``log_to="tensorboard:DIR"`` or ``"wandb"`` the watch charts its table there too (``sinks.py``).

Why not the global optimizer hooks a plain loop uses: Lightning runs forward and backward *inside*
``optimizer.step(closure)``, so the step's pre hook comes before the gradients exist. Lightning's
``on_before_optimizer_step`` comes after backward (and after AMP unscaling, once per accumulated step), which
is where gradients are read; the optimizer's own post hook then ends the step (the update ratio).
"""

from __future__ import annotations

import math
from typing import Any

from depthlab.diagnose.sinks import Sink
from depthlab.diagnose.watch import Watch

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the older package name
    from pytorch_lightning.callbacks import Callback

TABLE_COLUMNS = ("depth", "name", "kind", "grad_norm", "update_ratio", "dead_frac", "saturated_frac")


class DepthlabCallback(Callback):
    """Watch the LightningModule during ``fit``; ``verdicts`` are the doctor's on its rows."""

    def __init__(
        self,
        every: int = 10,
        model_config: dict[str, Any] | None = None,
        verbose: bool = True,
        log_to: str | Sink | None = None,
    ):
        super().__init__()
        self.every, self.model_config, self.verbose, self.log_to = every, model_config, verbose, log_to
        self.watch: Watch | None = None
        self.verdicts: list = []
        self._handles: list = []

    def on_fit_start(self, trainer, pl_module) -> None:
        self.watch = Watch(pl_module, every=self.every, log_to=self.log_to)
        self.watch.on_train_start(None)  # steps end through this callback, not the global optimizer hooks
        self._handles = [
            opt.register_step_post_hook(lambda *_: self.watch.on_step(None)) for opt in trainer.optimizers
        ]

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.watch.on_backward(None)

    def on_fit_end(self, trainer, pl_module) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.watch.on_train_end(None)
        from depthlab.diagnose.doctor import diagnose

        self.verdicts = diagnose(self.watch, self.model_config)
        if self.verbose and trainer.is_global_zero:
            print(self.report())

    def report(self) -> str:
        """The last recorded step's table, then one line per verdict."""
        return "\n".join([last_step_table(self.watch.rows), *(v.line() for v in self.verdicts)])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def last_step_table(rows: list[dict]) -> str:
    """The watch table's last recorded step as aligned text (one line per weight layer)."""
    if not rows:
        return "watch: no step recorded"
    last = max(r["step"] for r in rows)
    body = [[_cell(r[c]) for c in TABLE_COLUMNS] for r in rows if r["step"] == last]
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(TABLE_COLUMNS)]
    lines = [
        f"watch, step {last}:",
        "  ".join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths, strict=True)),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join(lines)
