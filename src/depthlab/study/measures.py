"""Small measurements a study takes of a model before or after training (read-only: results never change).

- per-layer weight-gradient norms on one batch (Glorot & Bengio 2010; He et al. 2015, arXiv 1502.01852);
- linear probes per layer (Alain & Bengio 2016, arXiv 1610.01644), as closed-form ridge classifiers on the
  frozen features of each block, fitted on the training split and scored on the test split;
- linear pieces of a 1-D-input net along its input segment (Telgarsky 2015, arXiv 1509.08101; Hanin & Rolnick
  2019), counted as slope changes of its output on a dense grid;
- the std of each block's response (He et al. 2016, arXiv 1512.03385, Fig. 7) and block lesions (Veit et al.
  2016, arXiv 1605.06431): accuracy with one block skipped.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from depthlab.data.dataset import Dataset
from depthlab.train.evaluate import task_loss

PROBE_SAMPLES = 2000  # probes use at most this many training examples (the probe is tiny; more adds little)
PROBE_RIDGE = 1e-2


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Linear and conv layers in registration order (input to output for the sequential models here)."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def layer_grad_norms(model: nn.Module, data: Dataset, batch_size: int = 256) -> list[float]:
    """Frobenius norm of dLoss/dW for every weight layer, input side first, on one training batch."""
    model.train()
    model.zero_grad(set_to_none=True)
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    task_loss(model(x), y, data.task).backward()
    norms = [
        float(layer.weight.grad.norm()) if layer.weight.grad is not None else 0.0
        for layer in weight_layers(model)
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


@torch.no_grad()
def block_features(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Flattened outputs of the stem and every block (``forward_intermediates``) in eval mode."""
    model.eval()
    return [h.flatten(1).float() for h in model.forward_intermediates(x)]


def _ridge_accuracy(
    train: torch.Tensor, y_train: torch.Tensor, test: torch.Tensor, y_test: torch.Tensor, classes: int
) -> float:
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    a = torch.cat([(train - mean) / std, torch.ones(len(train), 1)], 1).double()
    b = torch.cat([(test - mean) / std, torch.ones(len(test), 1)], 1).double()
    targets = torch.nn.functional.one_hot(y_train, classes).double()
    gram = a.T @ a + PROBE_RIDGE * len(a) * torch.eye(a.shape[1], dtype=a.dtype)
    weights = torch.linalg.solve(gram, a.T @ targets)
    return float(((b @ weights).argmax(1) == y_test).double().mean())


def probe_accuracies(model: nn.Module, data: Dataset) -> list[float]:
    """Test accuracy of a linear probe on the input, then on the stem and each block's output."""
    x_train, y_train = data.x_train[:PROBE_SAMPLES], data.y_train[:PROBE_SAMPLES]
    inputs = [x_train.flatten(1).float()], [data.x_test.flatten(1).float()]
    train_feats = inputs[0] + block_features(model, x_train)
    test_feats = inputs[1] + block_features(model, data.x_test)
    return [
        _ridge_accuracy(a, y_train, b, data.y_test, data.num_classes)
        for a, b in zip(train_feats, test_feats, strict=True)
    ]


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


@torch.no_grad()
def response_stds(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Std of each block's output over a batch (He et al. 2016, Fig. 7 measures the same per layer)."""
    return [float(h.std()) for h in block_features(model, x)[1:]]


@torch.no_grad()
def lesion_accuracies(model: nn.Module, data: Dataset) -> list[float]:
    """Test accuracy with block i replaced by the identity, for each block whose input and output shapes
    match."""
    model.eval()
    out = []
    for i, block in enumerate(model.blocks):
        probe = data.x_test[:8]
        before = nn.Sequential(model.stem, *model.blocks[:i])(probe)
        if block(before).shape != before.shape:
            continue
        lesioned = copy.deepcopy(model)
        lesioned.blocks[i] = nn.Identity()
        out.append(float((lesioned(data.x_test).argmax(1) == data.y_test).float().mean()))
    return out
