"""Loss and accuracy of a model on a split, batched, without gradients."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


def task_loss(
    out: torch.Tensor, y: torch.Tensor, task: str, label_smoothing: float = 0.0, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy (optionally label-smoothed) for classification, MSE for regression, in float32."""
    out = out.float()
    if task == "classification":
        return F.cross_entropy(out, y, label_smoothing=label_smoothing, reduction=reduction)
    return F.mse_loss(out, y.reshape(out.shape).float(), reduction=reduction)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str = "classification",
    batch_size: int = 1024,
    autocast=None,
) -> dict[str, float]:
    """``{"loss", "acc"}`` (classification) or ``{"loss"}`` (regression, MSE per element) in eval mode."""
    if len(x) == 0:
        return {}
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with autocast or contextlib.nullcontext():
            out = model(xb)
        loss_sum += task_loss(out, yb, task, reduction="sum")
        if task == "classification":
            correct += (out.argmax(1) == yb).sum()
    model.train(was_training)
    if task == "classification":
        return {"loss": loss_sum.item() / len(x), "acc": correct.item() / len(x)}
    return {"loss": loss_sum.item() / y.numel()}
