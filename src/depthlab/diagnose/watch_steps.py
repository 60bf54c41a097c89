"""When a watched step is over, told by the optimizer: its step pre hook (the gradients are final) and post
hook (the weights moved).

With ``optimizer=``, that optimizer's own hooks. In a plain loop, the global hooks
(``torch.optim.optimizer.register_optimizer_step_pre_hook``) of any optimizer holding the model's weights.
``GradScaler.step`` unscales before calling ``optimizer.step``, DDP finishes its all-reduce inside backward,
so the pre hook sees final gradients. A step taking a closure (LBFGS) runs backward inside it: the gradients
are readable only after it, when the weights have already moved, so that step has no update ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class OptimizerSteps:
    """Calls ``grads_ready`` and ``update_done`` around each step of the optimizer(s) over ``model``."""

    def __init__(self, grads_ready: Callable[[], None], update_done: Callable[[bool], None]):
        self.grads_ready, self.update_done = grads_ready, update_done
        self.seen = 0  # steps ended by the global hooks of a plain loop
        self._handles: list = []

    def hook(self, optimizer: torch.optim.Optimizer) -> None:
        """The steps of this one optimizer."""
        self._handles = [
            optimizer.register_step_pre_hook(lambda *_: self.grads_ready()),
            optimizer.register_step_post_hook(lambda *_: self.update_done(False)),
        ]

    def hook_any(self, model: nn.Module) -> None:
        """A plain loop: any ``optimizer.step()`` over ``model``'s weights (global hooks)."""
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        mine = {id(p) for p in model.parameters()}

        def owns(optimizer) -> bool:
            return any(id(p) in mine for group in optimizer.param_groups for p in group["params"])

        def closure(args, kwargs) -> bool:  # args[0] is the optimizer itself
            return (len(args) > 1 and args[1] is not None) or kwargs.get("closure") is not None

        def pre(optimizer, args, kwargs) -> None:
            if owns(optimizer) and not closure(args, kwargs):
                self.grads_ready()

        def post(optimizer, args, kwargs) -> None:
            if not owns(optimizer):
                return
            self.seen += 1
            if closure(args, kwargs):  # backward ran inside step(): gradients are readable only now
                self.grads_ready()
            self.update_done(closure(args, kwargs))

        self._handles = [register_optimizer_step_pre_hook(pre), register_optimizer_step_post_hook(post)]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
