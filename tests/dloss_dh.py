"""The oracle for watch's dLoss/dh readings: autograd's own gradient at chosen module outputs."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.diagnose import watch


def autograd_dloss_dh_rms(model: nn.Module, at: list[str], x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """RMS of dLoss/dh (cross-entropy) at the outputs of ``model``'s submodules named ``at``, in forward
    order, from a copy whose in-place activations are made out-of-place (a retained grad needs its own
    tensor)."""
    reference, outputs = copy.deepcopy(model), []
    for module in reference.modules():
        if getattr(module, "inplace", False):
            module.inplace = False

    def keep(_module, _inputs, out):
        out.retain_grad()
        outputs.append(out)

    for name in at:
        reference.get_submodule(name).register_forward_hook(keep)
    F.cross_entropy(reference(x), y).backward()
    return [h.grad.pow(2).mean().sqrt().item() for h in outputs]


def one_watched_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """One SGD step (lr 0.1) of ``model`` on (x, y) under ``watch``; the watch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch(model, optimizer=optimizer) as w:
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return w
