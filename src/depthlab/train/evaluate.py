"""Loss and accuracy of a model on a split, batched, without gradients.

Three tasks: ``classification`` (cross-entropy over classes), ``regression`` (MSE per element) and ``lm``
(language modelling: logits ``(B, T, V)`` against next tokens ``(B, T)``, cross-entropy averaged over every
token, so its loss is nats per token and ``bpc = loss / ln 2`` bits per character on a character vocabulary).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError

TASKS = ("classification", "regression", "lm")


def task_loss(
    out: torch.Tensor, y: torch.Tensor, task: str, label_smoothing: float = 0.0, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy (optionally label-smoothed) for classification and per token for lm, MSE for regression,
    in float32."""
    out = out.float()
    if task == "lm":
        check_lm_output(out, y)
        out, y = out.reshape(-1, out.shape[-1]), y.reshape(-1)  # (B T, V), (B T)
    if task in ("classification", "lm"):
        return F.cross_entropy(out, y, label_smoothing=label_smoothing, reduction=reduction)
    return F.mse_loss(out, y.reshape(out.shape).float(), reduction=reduction)


def check_lm_output(out: torch.Tensor, y: torch.Tensor) -> None:
    """A language model's output is (B, T, V) for targets (B, T): else one line naming the model to use."""
    if out.dim() != 3 or out.shape[:2] != y.shape:
        raise DepthlabError(
            f"a language-modelling data set needs logits (B, T, vocab) for targets {tuple(y.shape)}; "
            f"the model gave {tuple(out.shape)} (use create_model('transformer', task='lm'))"
        )


def predictions(out: torch.Tensor) -> torch.Tensor:
    """The predicted class (classification) or next token (lm) of each target: argmax over the last dim."""
    return out.argmax(-1)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str = "classification",
    batch_size: int = 1024,
    autocast=None,
) -> dict[str, float]:
    """``{"loss", "acc"}`` (classification), ``{"loss", "bpc", "acc"}`` per token (lm) or ``{"loss"}``
    (regression, MSE per element) in eval mode."""
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
        if task != "regression":
            correct += (predictions(out) == yb).sum()
    model.train(was_training)
    if task == "regression":
        return {"loss": loss_sum.item() / y.numel()}
    loss = loss_sum.item() / y.numel()  # per example (classification) or per token (lm)
    scores = {"loss": loss, "bpc": loss / math.log(2)} if task == "lm" else {"loss": loss}
    return {**scores, "acc": correct.item() / y.numel()}
