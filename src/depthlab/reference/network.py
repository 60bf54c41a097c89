"""Networks of any depth from the reference layers, an SGD training loop on XOR, per-layer gradient norms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from depthlab.errors import check, unknown
from depthlab.reference.init import INITS
from depthlab.reference.layers import (
    BatchNorm,
    Dense,
    Layer,
    LeakyReLU,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
    set_training,
    walk,
)
from depthlab.reference.losses import MSE, SoftmaxCrossEntropy
from depthlab.reference.optim import SGD
from depthlab.registry import Registry

ACTIVATIONS: Registry[Callable[[], Layer]] = Registry("activation")
for _name, _cls in (("sigmoid", Sigmoid), ("tanh", Tanh), ("relu", ReLU), ("leaky_relu", LeakyReLU)):
    ACTIVATIONS.register(_name, _cls)
NORMS = ("none", "batch")
LOSSES = ("ce", "mse")

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def hidden_layer(
    n_in: int, n_out: int, activation: str, norm: str, init: str, rng: np.random.RandomState
) -> list[Layer]:
    """Dense → (BatchNorm) → activation."""
    # A bias before batch norm is dead weight: the mean subtraction cancels it (its gradient is exactly 0).
    layers: list[Layer] = [Dense(n_in, n_out, init=init, bias=norm != "batch", rng=rng)]
    if norm == "batch":
        # The four XOR points are the whole population, so no Bessel n/(n-1): with n = 4 it inflates every
        # running variance by 4/3, and over nine such layers inference flips XOR (eval accuracy 0.5).
        layers.append(BatchNorm(n_out, bessel=False))
    return layers + [ACTIVATIONS.get(activation)()]


def build_mlp(
    depth: int,
    width: int = 4,
    n_in: int = 2,
    n_out: int = 2,
    activation: str = "sigmoid",
    norm: str = "none",
    residual: bool = False,
    init: str = "rand",
    seed: int = 0,
) -> Sequential:
    """``depth`` Dense layers: a stem n_in→width, depth−2 hidden (each a residual block if asked), a head.

    The head is a plain Dense giving logits (for cross-entropy) or, followed by a sigmoid, outputs (for MSE).
    """
    _validate(depth, width, activation, norm, init)
    rng = np.random.RandomState(seed)
    layers = hidden_layer(n_in, width, activation, norm, init, rng)
    for _ in range(depth - 2):
        unit = hidden_layer(width, width, activation, norm, init, rng)
        layers += [Residual(Sequential(unit))] if residual else unit
    return Sequential(layers + [Dense(width, n_out, init=init, rng=rng)])


def _validate(depth: int, width: int, activation: str, norm: str, init: str) -> None:
    check(depth >= 2, f"depth must be at least 2 (a stem and a head), got {depth}")
    check(width >= 1, f"width must be at least 1, got {width}")
    ACTIVATIONS.get(activation)
    INITS.get(init)
    if norm not in NORMS:
        raise unknown("norm", norm, NORMS)


def dense_layers(model: Layer) -> list[Dense]:
    """The Dense layers of a model in forward order (projections included)."""
    return [layer for layer in walk(model) if isinstance(layer, Dense)]


def weight_grad_norms(model: Layer) -> list[float]:
    """‖dL/dW‖ of each Dense layer, first to last, from the last backward."""
    return [float(np.linalg.norm(layer.grads["W"])) for layer in dense_layers(model)]


def act_grad_rms(model: Layer) -> list[float]:
    """RMS of dL/dh at each Dense layer's output h, first to last, from the last backward: the doctor's
    ``act_grad_rms``, which unlike ‖dL/dW‖ does not scale with the layer's shape."""
    return [layer.dy_rms for layer in dense_layers(model)]


@dataclass
class TrainResult:
    """What a training run measured: loss per step, gradient norms at the first and last step, predictions."""

    losses: list[float]
    first_grad_norms: list[float]
    last_grad_norms: list[float]
    predictions: np.ndarray
    accuracy: float
    first_act_grad_rms: list[float] = field(default_factory=list)  # dL/dh RMS per Dense layer, first step
    last_act_grad_rms: list[float] = field(default_factory=list)

    @property
    def first_to_last_ratio(self) -> float:
        """First-layer over last-layer weight-gradient norm at initialization (vanishing gradients: ≪ 1)."""
        return self.first_grad_norms[0] / max(self.first_grad_norms[-1], 1e-300)

    @property
    def act_grad_ratio(self) -> float:
        """dL/dh RMS of the first hidden layer over the last (the head left out) at initialization, as the
        doctor reads it."""
        hidden = self.first_act_grad_rms[:-1]
        return hidden[0] / max(hidden[-1], 1e-300)


def train_xor(
    model: Sequential, loss: str = "ce", steps: int = 2000, lr: float = 0.5, momentum: float = 0.9
) -> TrainResult:
    """Full-batch SGD on the four XOR points: loss curve, gradient norms, eval-mode predictions.

    With ``loss="mse"`` the model's single output goes through a sigmoid, as in the seed.
    """
    if loss not in LOSSES:
        raise unknown("loss", loss, LOSSES)
    check(steps >= 1, f"steps must be at least 1, got {steps}")
    check(bool(np.isfinite(lr)) and lr > 0, f"lr must be a positive number, got {lr}")
    check(0 <= momentum < 1, f"momentum must be in [0, 1), got {momentum}")
    net = model if loss == "ce" else Sequential([model, Sigmoid()])
    criterion = SoftmaxCrossEntropy() if loss == "ce" else MSE()
    target = XOR_Y.ravel().astype(int) if loss == "ce" else XOR_Y
    optimizer, losses, first, first_rms = SGD(model, lr=lr, momentum=momentum), [], [], []
    for _ in range(steps):
        losses.append(criterion.forward(net.forward(XOR_X), target))
        net.backward(criterion.backward())
        first, first_rms = first or weight_grad_norms(model), first_rms or act_grad_rms(model)
        optimizer.step()
    predictions = predict(net, XOR_X, loss)
    accuracy = float(np.mean((predictions > 0.5) == (XOR_Y.ravel() > 0.5)))
    grads = weight_grad_norms(model)
    return TrainResult(losses, first, grads, predictions, accuracy, first_rms, act_grad_rms(model))


def predict(net: Layer, x: np.ndarray, loss: str = "ce") -> np.ndarray:
    """P(class 1) per row, in inference mode (batch norm uses its running statistics)."""
    set_training(net, False)
    out = net.forward(x)
    set_training(net, True)
    if loss == "ce":
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True))[:, 1]
    return out.ravel()


def xor_experiment(
    depth: int = 10,
    width: int = 4,
    activation: str = "sigmoid",
    norm: str = "none",
    residual: bool = False,
    init: str = "rand",
    loss: str = "ce",
    steps: int = 2000,
    lr: float = 0.1,
    momentum: float = 0.9,
    seed: int = 0,
) -> TrainResult:
    """Build a depth-``depth`` net (2 logits for cross-entropy, 1 output for MSE) and train it on XOR."""
    if loss not in LOSSES:
        raise unknown("loss", loss, LOSSES)
    model = build_mlp(
        depth,
        width,
        n_out=2 if loss == "ce" else 1,
        activation=activation,
        norm=norm,
        residual=residual,
        init=init,
        seed=seed,
    )
    return train_xor(model, loss=loss, steps=steps, lr=lr, momentum=momentum)
