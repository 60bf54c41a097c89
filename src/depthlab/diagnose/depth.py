"""The depth meter: weight layers on the longest input -> output path (Non-deep Networks, arXiv 2110.07641).

``longest_path_depth(model, x)`` runs one forward pass and walks its autograd graph (see ``graph.py`` for what
counts as a weight layer and why the autograd graph). ``form="deploy"`` measures
``depthlab.deploy.deploy_form``, a copy in which every module exposing ``reparameterize()`` (RepVGG / ParNet
blocks) is fused and every BatchNorm after a conv or linear is folded into it, so a block that becomes one
conv counts once and a folded BatchNorm is no step on the path. The model itself is never changed: parameters'
``requires_grad`` and the train/eval mode are restored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
from torch import nn

from depthlab.deploy import deploy_form
from depthlab.diagnose.graph import graph_depth
from depthlab.errors import DepthlabError, unknown

FORMS = ("train", "deploy")


@dataclass(frozen=True)
class DepthReport:
    """Depth of one model in one form."""

    depth: int  # weight layers on the longest input -> output path
    weight_layers: int  # weight layers executed in total, over all paths
    sequential_ops: (
        int  # autograd ops on the longest input -> output path (norms, activations, adds included)
    )
    form: str

    def __int__(self) -> int:
        return self.depth

    def to_dict(self) -> dict:
        return asdict(self)


def model_form(model: nn.Module, form: str) -> nn.Module:
    """The model as measured in ``form``: itself for ``train``, ``deploy_form``'s copy for ``deploy``."""
    if form not in FORMS:
        raise unknown("form", form, FORMS)
    return deploy_form(model) if form == "deploy" else model


@contextmanager
def _all_params_tracked(model: nn.Module) -> Iterator[None]:
    """Eval mode and grads on for every parameter (frozen layers still count), restored afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    try:
        model.eval()  # a diagnostic must not update BatchNorm running statistics
        for param, _ in flags:
            param.requires_grad_(True)
        yield
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)
        model.train(was_training)


def _first_tensor(output) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    items = (
        output.values() if isinstance(output, dict) else output if isinstance(output, (list, tuple)) else ()
    )
    tensors = [t for t in items if isinstance(t, torch.Tensor)]
    if not tensors:
        raise DepthlabError(
            f"model output of type {type(output).__name__}: expected a tensor (or a tuple/dict)"
        )
    return sum(t.float().sum() for t in tensors)  # one root joining every output


def longest_path_depth(model: nn.Module, example_input: torch.Tensor, form: str = "train") -> DepthReport:
    """Weight layers on the longest input -> output path of ``model`` run on ``example_input``."""
    measured = model_form(model, form)
    if not isinstance(example_input, torch.Tensor):
        raise DepthlabError(f"example_input of type {type(example_input).__name__}: expected a torch.Tensor")
    with _all_params_tracked(measured), torch.enable_grad():
        leaf = example_input.detach().clone()
        if leaf.is_floating_point():
            leaf.requires_grad_(True)
        output = _first_tensor(measured(leaf))
        result = graph_depth(output, leaf)
    return DepthReport(result.depth, result.weight_ops, result.sequential_ops, form)
