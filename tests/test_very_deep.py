"""Very deep nets train with per-block activation checkpointing: a 1000-layer residual MLP and ResNet-1202.

Oracles: checkpointing recomputes the same function, so gradients (and a whole ``fit`` run's weights) equal
those without it; and what autograd keeps for backward shrinks to about one tensor per block.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from depthlab.data.dataset import Dataset
from depthlab.diagnose.cost import kept_for_backward
from depthlab.models import create_model
from depthlab.train import fit

pytestmark = pytest.mark.slow

# (model name, model options, input shape): small widths and inputs keep the 1000+ layers cheap on a CPU
VERY_DEEP = {
    "mlp1000": (
        "mlp",
        dict(depth=1000, width=16, norm="batch", residual=True, preact=True, input_shape=(1, 40)),
        (1, 40),
    ),
    "resnet1202": ("resnet_cifar", dict(depth=1202, width=4, input_shape=(3, 8, 8)), (3, 8, 8)),
}


def make(case: str) -> torch.nn.Module:
    name, options, _ = VERY_DEEP[case]
    torch.manual_seed(0)
    return create_model(name, **options)


def batch(case: str, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, *VERY_DEEP[case][2], generator=g), torch.randint(0, 10, (n,), generator=g)


def gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, checkpointing: bool) -> list:
    model.set_grad_checkpointing(checkpointing)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    return [p.grad.clone() for p in model.parameters()]


def kept(model: torch.nn.Module, x: torch.Tensor, checkpointing: bool) -> int:
    """Activation bytes kept between forward and backward; a checkpointed block keeps only its input."""
    model.set_grad_checkpointing(checkpointing)
    return kept_for_backward(model, x, block_inputs=model.blocks)


@pytest.mark.parametrize("case", VERY_DEEP)
def test_checkpointing_gives_the_same_gradients(case):
    model, (x, y) = make(case), batch(case)
    plain, checkpointed = gradients(model, x, y, False), gradients(model, x, y, True)
    assert len(plain) == len(checkpointed) > 1000
    for a, b in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)


# Measured (activations only): mlp1000 0.40 (a pre-activation block keeps its input, the activation's output
# and the norm's statistics, tiny at width 16 but not negligible), resnet1202 0.25 (a basic block keeps about
# five activations). Without checkpointing the ratio would be 1.
@pytest.mark.parametrize(("case", "max_ratio"), [("mlp1000", 0.45), ("resnet1202", 0.3)])
def test_checkpointing_keeps_about_one_activation_per_block(case, max_ratio):
    model, (x, _) = make(case), batch(case)
    model.train()
    with_ckpt, without = kept(model, x, True), kept(model, x, False)
    assert with_ckpt < max_ratio * without
    one_input = x.element_size() * math.prod(model.stem(x).shape)  # the widest block input
    assert with_ckpt < 1.1 * (len(model.blocks) + 10) * one_input


def as_data(x: torch.Tensor, y: torch.Tensor) -> Dataset:
    return Dataset("tiny", x, y, x, y, x, y, num_classes=10)


@pytest.mark.parametrize("case", VERY_DEEP)
def test_fit_trains_a_very_deep_net_with_checkpointing(case):
    data = as_data(*batch(case, n=8))
    options = dict(steps=3, batch_size=8, optimizer="adamw", lr=1e-3, quiet=True, device="cpu")
    checkpointed = make(case)
    history = fit(checkpointed, data, grad_checkpointing=True, **options)
    assert checkpointed.grad_checkpointing
    losses = [r["train_loss"] for r in history.records]  # one full-batch step per epoch
    assert history.status == "ok" and len(losses) == 3 and all(map(math.isfinite, losses))
    assert losses[-1] < losses[0]
    plain = make(case)
    fit(plain, data, **options)
    for a, b in zip(plain.parameters(), checkpointed.parameters(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
