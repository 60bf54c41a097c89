"""The weight-layer rule: rank >= 2 parameters count, in the order the forward pass runs them."""

import torch
from torch import nn

from depthlab.diagnose.weights import execution_order, weight_layers, weight_of


class HeadFirst(nn.Module):
    """Registers its head before its body, so registration order is not the order along the depth."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(8, 2)
        self.norm = nn.LayerNorm(8)  # rank-1 parameters: not a weight layer
        self.body = nn.Sequential(nn.Linear(4, 8), nn.PReLU(8), nn.Linear(8, 8))
        self.unused = nn.Linear(3, 3)

    def forward(self, x):
        return self.head(self.norm(self.body(x)))


def test_rank_two_parameters_make_weight_layers_and_norms_do_not():
    model = HeadFirst()
    assert list(weight_layers(model)) == ["head", "body.0", "body.2", "unused"]  # registration order
    assert weight_of(model.norm) is None and weight_of(model.body[1]) is None  # LayerNorm, PReLU slopes
    assert weight_of(model.head) is model.head.weight


def test_execution_order_follows_the_forward_pass_and_skips_unused_layers():
    model = HeadFirst().train()
    order = execution_order(model, torch.randn(5, 4))
    assert [name for name, _ in order] == ["body.0", "body.2", "head"]
    assert order[0][1] is model.body[0] and model.training
    assert all(not m._forward_hooks for m in model.modules())  # the hooks are gone
