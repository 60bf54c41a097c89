"""Layers by name: inits against their variance formulas, activations and norms against torch, blocks."""

import math

import pytest
import torch
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.models.blocks import LayerBlock, Subsample
from depthlab.models.layers import (
    ACTIVATIONS,
    LEAKY_SLOPE,
    NORMS,
    he_gain,
    init_model,
    init_weight,
    make_activation,
    make_norm,
    parse_init,
)

FAN_OUT, FAN_IN = 300, 400  # a 300 x 400 weight: 120k samples, so a sample std is within ~0.5% of its target


def weight(fan_out: int = FAN_OUT, fan_in: int = FAN_IN) -> torch.Tensor:
    return torch.empty(fan_out, fan_in)


def expected_std(init: str, activation: str, fan_in: int, fan_out: int) -> float:
    """Each named init's standard deviation by its formula (Glorot & Bengio 2010; He et al. 2015; LeCun)."""
    gain = he_gain(activation)
    return {
        "he_normal": gain / math.sqrt(fan_in),
        "he_uniform": gain / math.sqrt(fan_in),
        "xavier_normal": math.sqrt(2 / (fan_in + fan_out)),
        "xavier_uniform": math.sqrt(2 / (fan_in + fan_out)),
        "lecun_normal": 1 / math.sqrt(fan_in),
        "default": 1 / math.sqrt(3 * fan_in),  # PyTorch's kaiming_uniform(a=sqrt(5)): bound 1/sqrt(fan_in)
        "normal(0.05)": 0.05,
    }[init]


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "prelu", "tanh"])
@pytest.mark.parametrize(
    "init",
    ["he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "lecun_normal", "default", "normal(0.05)"],
)
def test_init_std_matches_formula(init, activation):
    w = nn.Linear(FAN_IN, FAN_OUT).weight  # default init lives in the module, so build one
    init_weight(w, init, activation)
    assert w.std().item() == pytest.approx(expected_std(init, activation, FAN_IN, FAN_OUT), rel=0.02)
    assert abs(w.mean().item()) < 0.02 * expected_std(init, activation, FAN_IN, FAN_OUT)


def test_uniform_inits_are_bounded_by_sqrt3_std():
    for init in ("he_uniform", "xavier_uniform"):
        w = weight()
        init_weight(w, init, "relu")
        bound = math.sqrt(3) * expected_std(init, "relu", FAN_IN, FAN_OUT)
        assert w.abs().max().item() <= bound + 1e-6
        assert w.abs().max().item() > 0.99 * bound


@pytest.mark.parametrize(
    "activation, gain",
    [("relu", math.sqrt(2)), ("tanh", 1.0), ("leaky_relu", math.sqrt(2 / (1 + LEAKY_SLOPE**2)))],
)
def test_orthogonal_rows_are_orthogonal_with_gain(activation, gain):
    w = weight(64, 128)
    init_weight(w, "orthogonal", activation)
    torch.testing.assert_close(w @ w.T, gain**2 * torch.eye(64), atol=1e-4, rtol=0)


def test_conv_fan_in_counts_the_kernel():
    conv = nn.Conv2d(32, 64, 3)
    init_weight(conv.weight, "he_normal", "relu")
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.03)


def test_init_model_zeroes_biases_and_default_keeps_torch():
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Conv1d(3, 4, 3))
    before = [p.clone() for p in model.parameters()]
    init_model(model, "default")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    init_model(model, "xavier_normal")
    assert model[0].bias.abs().sum() == 0 and model[2].bias.abs().sum() == 0


@pytest.mark.parametrize("bad", ["he", "normal(-1)", "normal(abc)", "xavier_normal(2)", "kaiming"])
def test_bad_init_names_raise(bad):
    with pytest.raises(DepthlabError, match=bad.replace("(", r"\(").replace(")", r"\)")):
        parse_init(bad)


def test_parse_init():
    assert parse_init("normal(0.02)") == ("normal", 0.02)
    assert parse_init("he_normal") == ("he_normal", None)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_torch(name):
    x = torch.linspace(-3, 3, 61).reshape(1, 1, 61)
    reference = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "gelu": nn.functional.gelu,
        "silu": nn.functional.silu,
        "softsign": nn.functional.softsign,
        "identity": lambda t: t,
        "leaky_relu": lambda t: torch.where(t > 0, t, LEAKY_SLOPE * t),
        "prelu": lambda t: torch.where(t > 0, t, 0.25 * t),
    }[name]
    torch.testing.assert_close(make_activation(name, 1)(x), reference(x))


def test_prelu_has_one_slope_per_channel():
    assert sum(p.numel() for p in make_activation("prelu", 7).parameters()) == 7


def test_unknown_activation_and_norm_suggest_a_match():
    with pytest.raises(DepthlabError, match="rleu.*did you mean 'relu'"):
        make_activation("rleu")
    with pytest.raises(DepthlabError, match="'btach'.*batch"):
        make_norm("btach", 4, 0)


@pytest.mark.parametrize("dims, shape", [(0, (16, 6)), (1, (16, 6, 9)), (2, (16, 6, 5, 5))])
@pytest.mark.parametrize("norm", NORMS)
def test_norms_normalize_the_right_axes(norm, dims, shape):
    x = torch.randn(shape) * 3 + 2
    y = make_norm(norm, 6, dims)(x)
    if norm == "none":
        assert torch.equal(x, y)
        return
    axes = (0, *range(2, len(shape))) if norm == "batch" else tuple(range(1, len(shape)))
    torch.testing.assert_close(y.mean(axes), torch.zeros_like(y.mean(axes)), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(axes, unbiased=False), torch.ones_like(y.mean(axes)), atol=1e-3, rtol=0)


def _linear_block(layout: str, skip=None, dims=0, conv=False):
    layer = nn.Conv1d(5, 5, 3, 2, 1) if conv else nn.Linear(5, 5)
    return LayerBlock(layer, 5, layout, "layer", "tanh", 0.0, dims, skip)


def test_block_layouts_match_their_formulas():
    h = torch.randn(4, 5)
    plain, post, pre = (_linear_block(layout) for layout in ("plain", "post", "pre"))
    for block in (post, pre):
        block.load_state_dict(plain.state_dict())
    norm = nn.functional.layer_norm
    W = plain.layer
    torch.testing.assert_close(plain(h), torch.tanh(norm(W(h), (5,))))
    torch.testing.assert_close(post(h), h + torch.tanh(norm(W(h), (5,))))
    torch.testing.assert_close(pre(h), h + W(torch.tanh(norm(h, (5,)))))


def test_strided_residual_block_subsamples_its_shortcut():
    block = _linear_block("pre", skip=Subsample(1), dims=1, conv=True)
    h = torch.randn(2, 5, 9)
    with torch.no_grad():
        block.layer.weight.zero_()
        block.layer.bias.zero_()
    torch.testing.assert_close(block(h), h[..., ::2])  # W = 0: only the shortcut is left, length ceil(9 / 2)
