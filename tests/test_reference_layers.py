"""Every reference layer's backward against two oracles: central finite differences and PyTorch autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from depthlab.errors import DepthlabError
from depthlab.reference import (
    MSE,
    SGD,
    BatchNorm,
    Dense,
    LeakyReLU,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    build_mlp,
    check_layer,
    numerical_grad,
    relative_error,
    set_training,
    walk,
)

TOL = 1e-6


def away_from_kinks(shape, seed=7):
    """Inputs with |x| ≥ 0.1, so ReLU's kink at 0 stays out of the finite-difference step."""
    x = np.random.RandomState(seed).randn(*shape)
    return np.where(np.abs(x) < 0.1, 0.1 * np.sign(x) + 0.1 * (x == 0), x)


def make_bn(training=True):
    bn = BatchNorm(3)
    rng = np.random.RandomState(1)
    bn.params["gamma"], bn.params["beta"] = rng.randn(3), rng.randn(3)
    bn.running_mean, bn.running_var = rng.randn(3), rng.rand(3) + 0.5
    bn.training = training
    return bn


def rng():
    return np.random.RandomState(3)


LAYERS = {
    "dense": lambda: Dense(3, 4, init="he", rng=rng()),
    "dense_rand_nobias": lambda: Dense(3, 2, init="rand", bias=False, rng=rng()),
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": lambda: LeakyReLU(0.1),
    "batchnorm_train": lambda: make_bn(True),
    "batchnorm_eval": lambda: make_bn(False),
    "residual_identity": lambda: Residual(
        Sequential([Dense(3, 5, rng=rng()), Tanh(), Dense(5, 3, rng=rng())])
    ),
    "residual_projection": lambda: Residual(
        Sequential([Dense(3, 4, rng=rng()), Sigmoid(), Dense(4, 2, rng=rng())]),
        projection=Dense(3, 2, bias=False, rng=rng()),
    ),
    # No bias before batch norm: its true gradient is exactly 0, where a relative error means nothing.
    "residual_bn_stack": lambda: Residual(
        Sequential([Dense(3, 3, bias=False, rng=rng()), make_bn(), ReLU()])
    ),
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_finite_differences(name):
    errors = check_layer(LAYERS[name](), away_from_kinks((6, 3)))
    assert max(errors.values()) <= TOL, errors


def test_finite_differences_catch_a_wrong_backward():
    """The check has teeth: a sigmoid whose backward forgets (1 - y) fails it."""

    class WrongSigmoid(Sigmoid):
        def backward(self, dy):
            return dy * self.y

    assert check_layer(WrongSigmoid(), away_from_kinks((4, 3)))["x"] > 1e-2


def test_bias_before_batchnorm_gets_no_gradient():
    """Batch norm subtracts the batch mean, so a constant shift before it changes nothing."""
    stack = Sequential([Dense(3, 3, rng=rng()), make_bn(), Tanh()])
    x = away_from_kinks((6, 3))
    stack.backward(np.random.RandomState(0).randn(*stack.forward(x).shape))
    assert np.abs(stack.layers[0].grads["b"]).max() < 1e-12
    assert np.abs(stack.layers[0].grads["W"]).max() > 1e-3


def test_batchnorm_gradient_is_blind_to_shift_and_scale():
    """Σ dx = 0 and Σ dx·x̂ = 0 per feature (ε = 0): shifting or scaling an input feature changes nothing."""
    bn = BatchNorm(3, eps=0.0)
    bn.forward(away_from_kinks((8, 3)) * 3 + 2)
    dx = bn.backward(np.random.RandomState(0).randn(8, 3))
    assert np.abs(dx.sum(axis=0)).max() < 1e-12
    assert np.abs((dx * bn.xhat).sum(axis=0)).max() < 1e-12
    assert np.abs(dx).max() > 1e-2


def test_deep_network_matches_finite_differences():
    net = build_mlp(5, width=3, activation="tanh", norm="batch", residual=True, init="xavier", seed=2)
    errors = check_layer(net, away_from_kinks((4, 2)))
    assert len(errors) == 1 + 5 + 1 + 2 * 4  # x, W of 5 Dense, b of the head, γ and β of 4 BatchNorm
    assert max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_loss_backward_matches_finite_differences(loss):
    pred = np.random.RandomState(0).randn(5, 3)
    criterion, target = (
        (MSE(), np.random.RandomState(1).randn(5, 3))
        if loss == "mse"
        else (SoftmaxCrossEntropy(), np.array([0, 2, 1, 1, 0]))
    )
    criterion.forward(pred, target)
    analytic = criterion.backward()
    numeric = numerical_grad(lambda: criterion.forward(pred, target), pred)
    assert relative_error(analytic, numeric) <= TOL


# --- PyTorch autograd as the second oracle: the same weights, the same input --------------------------------


def torch_forward(layer, leaves):
    """A torch function computing what ``layer`` computes, from leaf tensors that share its parameters."""
    p = {
        k: leaves.setdefault((id(layer), k), torch.tensor(v, requires_grad=True))
        for k, v in layer.params.items()
    }
    if isinstance(layer, Dense):
        return lambda x: x @ p["W"] + p["b"] if "b" in p else x @ p["W"]
    if isinstance(layer, BatchNorm):
        mean, var = torch.tensor(layer.running_mean), torch.tensor(layer.running_var)
        return lambda x: F.batch_norm(
            x,
            mean,
            var,
            p["gamma"],
            p["beta"],
            training=layer.training,
            momentum=layer.momentum,
            eps=layer.eps,
        )
    if isinstance(layer, Sequential):
        fns = [torch_forward(sub, leaves) for sub in layer.layers]

        def run(x):
            for fn in fns:
                x = fn(x)
            return x

        return run
    if isinstance(layer, Residual):
        inner = torch_forward(layer.inner, leaves)
        skip = torch_forward(layer.projection, leaves) if layer.projection is not None else (lambda x: x)
        return lambda x: inner(x) + skip(x)
    if isinstance(layer, LeakyReLU):  # ReLU included (slope 0)
        return lambda x: F.leaky_relu(x, layer.slope)
    return {Sigmoid: torch.sigmoid, Tanh: torch.tanh}[type(layer)]


def assert_matches_torch(layer, x):
    leaves = {}
    fn = torch_forward(layer, leaves)  # built before our forward changes running statistics
    dy = np.random.RandomState(5).randn(*layer.forward(x).shape)
    dx = layer.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(xt)
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for sub in walk(layer):
        for key in sub.params:
            expected = leaves[(id(sub), key)].grad.numpy()
            np.testing.assert_allclose(sub.grads[key], expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_torch_autograd(name):
    assert_matches_torch(LAYERS[name](), away_from_kinks((6, 3)))


@pytest.mark.parametrize(
    "norm,residual", [("none", False), ("batch", False), ("none", True), ("batch", True)]
)
def test_deep_network_matches_torch_autograd(norm, residual):
    net = build_mlp(8, width=4, activation="sigmoid", norm=norm, residual=residual, init="rand", seed=1)
    assert_matches_torch(net, away_from_kinks((4, 2)))


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_losses_match_torch(loss):
    pred = np.random.RandomState(0).randn(5, 3)
    pt = torch.tensor(pred, requires_grad=True)
    if loss == "mse":
        target = np.random.RandomState(1).randn(5, 3)
        criterion, ref = MSE(), F.mse_loss(pt, torch.tensor(target))
    else:
        target = np.array([0, 2, 1, 1, 0])
        criterion, ref = SoftmaxCrossEntropy(), F.cross_entropy(pt, torch.tensor(target))
    assert criterion.forward(pred, target) == pytest.approx(ref.item(), rel=1e-12)
    ref.backward()
    np.testing.assert_allclose(criterion.backward(), pt.grad.numpy(), rtol=1e-10)


def test_batchnorm_running_statistics_match_torch():
    bn, torch_bn = BatchNorm(3, momentum=0.2), torch.nn.BatchNorm1d(3, momentum=0.2).double()
    for seed in range(4):
        x = np.random.RandomState(seed).randn(5, 3) * 2 + 1
        bn.forward(x)
        torch_bn(torch.tensor(x))
    np.testing.assert_allclose(bn.running_mean, torch_bn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, torch_bn.running_var.numpy(), rtol=1e-12)
    set_training(bn, False)
    torch_bn.eval()
    x = np.random.RandomState(9).randn(2, 3)
    np.testing.assert_allclose(bn.forward(x), torch_bn(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_batchnorm_without_bessel_tracks_the_biased_variance():
    bn = BatchNorm(2, momentum=1.0, bessel=False)
    x = np.random.RandomState(0).randn(4, 2)
    bn.forward(x)
    np.testing.assert_allclose(bn.running_var, x.var(axis=0))


def test_sgd_momentum_matches_torch():
    layer, w0 = Dense(3, 2, rng=rng()), None
    w0 = layer.params["W"].copy()
    wt = torch.tensor(w0, requires_grad=True)
    ours, theirs = SGD(layer, lr=0.1, momentum=0.9), torch.optim.SGD([wt], lr=0.1, momentum=0.9)
    x = np.random.RandomState(0).randn(4, 3)
    for _ in range(3):
        layer.forward(x)
        layer.backward(np.ones((4, 2)))
        ours.step()
        theirs.zero_grad()
        (torch.tensor(x) @ wt).sum().backward()
        theirs.step()
    np.testing.assert_allclose(layer.params["W"], wt.detach().numpy(), rtol=1e-12)
    assert not np.allclose(layer.params["W"], w0)


def test_residual_refuses_the_seeds_shape_mismatch():
    """The seed's block 2 adds a width-1 branch to a width-2 input; NumPy would broadcast it silently."""
    block = Residual(Sequential([Dense(2, 4, rng=rng()), Sigmoid(), Dense(4, 1, rng=rng())]))
    with pytest.raises(DepthlabError, match="projection"):
        block.forward(np.ones((4, 2)))
