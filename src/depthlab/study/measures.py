"""Small measurements a study takes of a model before or after training (read-only: results never change).

- per-layer weight-gradient norms on one batch (Glorot & Bengio 2010; He et al. 2015, arXiv 1502.01852), and
  per block (Xiong et al. 2020, arXiv 2002.04745);
- linear probes per layer (Alain & Bengio 2016, arXiv 1610.01644): ``diagnose.feature_probes``' logistic
  regression on the frozen features of the input, the stem and each block, fitted on the training split,
  scored on test;
- linear pieces of a 1-D-input net along its input segment (Telgarsky 2015, arXiv 1509.08101; Hanin & Rolnick
  2019), counted as slope changes of its output on a dense grid;
- the std of each layer's response inside the blocks, after BN and before the ReLU or the addition (He et al.
  2016, arXiv 1512.03385, Fig. 7), and block lesions (Veit et al. 2016, arXiv 1605.06431).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from depthlab.data.dataset import Dataset
from depthlab.diagnose import feature_probes as probes
from depthlab.diagnose.weights import execution_order, weight_layers, weight_of
from depthlab.models.base import forward_hooked
from depthlab.train.evaluate import task_loss

PROBE_SAMPLES = 2000  # probes use at most this many training examples (the probe is tiny; more adds little)
# L-BFGS iterations per probe: on a trained depth-8 MLP on MNIST-1D, 20 iterations give test accuracies
# within 1 point of 100 (layer by layer) at a fifth of the time.
PROBE_STEPS = 20


def ordered_weight_layers(model: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The weight layers (diagnose's rank >= 2 rule) in the order a forward pass on ``x`` runs them."""
    return [layer for _, layer in execution_order(model, x)]


def layer_grad_norms(model: nn.Module, data: Dataset, batch_size: int = 256) -> list[float]:
    """Frobenius norm of dLoss/dW for every weight layer, input side first, on one training batch."""
    model.train()
    model.zero_grad(set_to_none=True)
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    layers = ordered_weight_layers(model, x)
    task_loss(model(x), y, data.task).backward()
    grads = [weight_of(layer).grad for layer in layers]
    norms = [float(g.norm()) if g is not None else 0.0 for g in grads]
    model.zero_grad(set_to_none=True)
    return norms


def block_grad_norms(model: nn.Module, data: Dataset, batch_size: int = 256) -> list[float]:
    """Norm of dLoss/dW over each block's weight matrices, first block first, on one training batch: the
    per-layer gradient norm of Xiong et al. 2020 (arXiv 2002.04745, Fig. 3), whose growth towards the output
    at init is what makes a post-LN transformer need warm-up. Empty for a model without ``blocks``."""
    if not has_blocks(model):
        return []
    model.train()
    model.zero_grad(set_to_none=True)
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    task_loss(model(x), y, data.task).backward()
    norms = [
        float(
            sum(p.grad.pow(2).sum() for p in block.parameters() if p.ndim >= 2 and p.grad is not None) ** 0.5
        )
        for block in model.blocks
    ]
    model.zero_grad(set_to_none=True)
    return norms


def activation_grad_norms(model: nn.Module, data: Dataset, batch_size: int = 256) -> list[float]:
    """RMS of dLoss/dh for the stem's and every block's output h, input side first, on one training batch."""
    model.train()
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    outputs = model.forward_intermediates(x)
    for h in outputs:
        h.retain_grad()
    task_loss(model.forward_head(model.pool(outputs[-1])), y, data.task).backward()
    norms = [float(h.grad.pow(2).mean().sqrt()) for h in outputs]
    model.zero_grad(set_to_none=True)
    return norms


def probe_accuracies(model: nn.Module, data: Dataset) -> list[float]:
    """Test accuracy of a linear probe on the raw input, then on the stem's and each block's output.

    One probe for the studies and ``depthlab.diagnose``: ``diagnose.feature_probes`` (multinomial logistic
    regression by L-BFGS on standardized features), fitted on at most ``PROBE_SAMPLES`` training examples.
    """
    part = dataclasses.replace(
        data, x_train=data.x_train[:PROBE_SAMPLES], y_train=data.y_train[:PROBE_SAMPLES]
    )
    raw = probes.fit_probe(
        probes.pool_features(part.x_train).float(),
        part.y_train,
        probes.pool_features(part.x_test).float(),
        part.y_test,
        part.num_classes,
        steps=PROBE_STEPS,
    )
    layers = probes.linear_probes(model, part, steps=PROBE_STEPS)
    return [raw["test_acc"]] + [row["test_acc"] for row in layers]


@torch.no_grad()
def linear_pieces(
    model: nn.Module, low: float = 0.0, high: float = 1.0, points: int = 20001, tolerance: float = 1e-3
) -> int:
    """Linear pieces of a scalar-input, scalar-output net on [low, high], read off its output on a dense grid.

    A kink shows as a change of slope between neighbouring grid intervals (two neighbouring changes when it
    falls inside an interval); runs of changes are merged into one kink. Kinks closer than two grid steps
    merge too.
    """
    model.eval()
    grid = torch.linspace(low, high, points, dtype=torch.float64)
    y = model.double()(grid.reshape(points, *_input_shape(model))).reshape(points)
    model.float()
    slopes = torch.diff(y) / torch.diff(grid)
    scale = slopes.abs().max().clamp_min(1e-12)
    change = (torch.diff(slopes).abs() > tolerance * scale).int()
    kinks = int(change[0]) + int((torch.diff(change) == 1).sum())
    return 1 + kinks


def _input_shape(model: nn.Module) -> tuple[int, ...]:
    return tuple(getattr(getattr(model, "config", None), "input_shape", (1,)))


def has_blocks(model: nn.Module) -> bool:
    """Whether ``model`` keeps its blocks in ``model.blocks`` (the lab's nets do; a user's builder may not,
    and then the block measurements are empty)."""
    return isinstance(getattr(model, "blocks", None), (nn.Sequential, nn.ModuleList))


@torch.no_grad()
def response_stds(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Std of each layer's response inside the blocks, where He et al. 2016 (Fig. 7) measure it: the output
    of each normalization layer (after BN, before the ReLU or the addition), in eval mode, over a batch.

    The same positions exist in a plain twin, so plain and residual responses compare layer by layer. In
    blocks without normalization the weight layers' outputs are used instead.
    """
    if not has_blocks(model):
        return []
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    taps = [m for m in model.blocks.modules() if isinstance(m, norms)] or list(
        weight_layers(model.blocks).values()
    )
    stds: list[float] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: stds.append(float(out.std()))) for m in taps]
    forward_hooked(model, x, hooks)
    return stds


def lesion_accuracies(model: nn.Module, data: Dataset) -> dict[str, Any]:
    """``{"baseline": test accuracy, "blocks": [test accuracy with block i skipped, ...]}`` for the blocks
    whose input and output shapes match (Veit et al. 2016), by ``diagnose.feature_probes.lesion``."""
    if not has_blocks(model):
        return {"baseline": None, "blocks": []}
    result = probes.lesion(model, data)
    kept = [row["test_acc"] for row in result["blocks"] if row["test_acc"] is not None]
    return {"baseline": result["baseline_acc"], "blocks": kept}
