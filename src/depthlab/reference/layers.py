"""Layers with explicit forward and backward, NumPy only, in the spirit of micrograd.

Each layer stores in ``forward`` what its ``backward`` needs. ``params`` and ``grads`` are dicts of arrays
with the same keys; ``backward(dy)`` fills ``grads`` and returns dL/dx. Batch norm: Ioffe & Szegedy 2015,
arXiv:1502.03167. Residual blocks: He et al. 2016, arXiv:1512.03385.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from depthlab.errors import DepthlabError
from depthlab.reference.init import init_weight


class Layer:
    """Base: no parameters, training mode on; subclasses override forward and backward."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def children(self) -> list[Layer]:
        """Sub-layers (containers override this)."""
        return []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


def walk(layer: Layer) -> Iterator[Layer]:
    """The layer and every layer inside it, depth first, in forward order."""
    yield layer
    for child in layer.children():
        yield from walk(child)


def set_training(layer: Layer, training: bool) -> None:
    """Switch a layer and all it contains between training and inference mode."""
    for sub in walk(layer):
        sub.training = training


class Dense(Layer):
    """y = x W + b, with W of shape (n_in, n_out)."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        init: str = "xavier",
        bias: bool = True,
        rng: np.random.RandomState | None = None,
    ):
        super().__init__()
        rng = rng if rng is not None else np.random.RandomState(0)
        self.params["W"] = init_weight(init, rng, n_in, n_out)
        if bias:
            self.params["b"] = np.zeros(n_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x  # (N, n_in)
        y = x @ self.params["W"]
        return y + self.params["b"] if "b" in self.params else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.dy_rms = float(np.sqrt(np.mean(dy**2)))  # RMS of dL/dh at this layer's output h
        self.grads["W"] = self.x.T @ dy
        if "b" in self.params:
            self.grads["b"] = dy.sum(axis=0)
        return dy @ self.params["W"].T


class Sigmoid(Layer):
    """σ(x) = 1 / (1 + e^-x); σ' = σ(1 - σ) ≤ 1/4, written in terms of the output as the seed does."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = 1.0 / (1.0 + np.exp(-x))
        return self.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self.y * (1.0 - self.y)


class Tanh(Layer):
    """tanh; its derivative 1 - tanh² is at most 1 (at 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1.0 - self.y**2)


class LeakyReLU(Layer):
    """max(x, slope·x); slope 0 gives ReLU."""

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = slope

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.positive = x > 0
        return np.where(self.positive, x, self.slope * x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.where(self.positive, dy, self.slope * dy)


class ReLU(LeakyReLU):
    """max(x, 0); the derivative at 0 is taken as 0, as PyTorch does."""

    def __init__(self) -> None:
        super().__init__(slope=0.0)


class BatchNorm(Layer):
    """Batch norm over the batch axis; running statistics for inference (PyTorch's conventions).

    Training: normalize with the batch mean and biased variance; running_var tracks the unbiased one (Bessel's
    n/(n−1)) unless ``bessel=False``, which is right when the batch is the whole population.
    """

    def __init__(self, n: int, eps: float = 1e-5, momentum: float = 0.1, bessel: bool = True):
        super().__init__()
        self.eps, self.momentum, self.bessel = eps, momentum, bessel
        self.params["gamma"], self.params["beta"] = np.ones(n), np.zeros(n)
        self.running_mean, self.running_var = np.zeros(n), np.ones(n)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training:
            mean, var = x.mean(axis=0), x.var(axis=0)
            self._update_running(mean, var, len(x))
        else:
            mean, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mean) / self.std  # (N, n)
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def _update_running(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        m, correction = self.momentum, n / max(n - 1, 1) if self.bessel else 1.0
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * var * correction

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grads["gamma"] = (dy * self.xhat).sum(axis=0)
        self.grads["beta"] = dy.sum(axis=0)
        scale = self.params["gamma"] / self.std
        if not self.training:  # fixed statistics: an affine map
            return dy * scale
        # dx = (1/N) γ/σ (N dy − Σdy − x̂ Σ(dy x̂)): the mean and variance depend on every x in the batch.
        n = len(dy)
        return scale / n * (n * dy - self.grads["beta"] - self.xhat * self.grads["gamma"])


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse."""

    def __init__(self, layers: Sequence[Layer]):
        super().__init__()
        self.layers = list(layers)

    def children(self) -> list[Layer]:
        return self.layers

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy


class Residual(Layer):
    """y = F(x) + P(x), with P the identity or, when F changes the width, a projection (a Dense, no bias).

    Backward: dx = J_Fᵀ dy + dy (identity) or J_Fᵀ dy + J_Pᵀ dy (projection). The identity term passes dy
    through unchanged, however small J_F makes the other one.
    """

    def __init__(self, inner: Layer, projection: Layer | None = None):
        super().__init__()
        self.inner, self.projection = inner, projection

    def children(self) -> list[Layer]:
        return [self.inner] + ([self.projection] if self.projection is not None else [])

    def forward(self, x: np.ndarray) -> np.ndarray:
        fx = self.inner.forward(x)
        skip = x if self.projection is None else self.projection.forward(x)
        if fx.shape != skip.shape:  # NumPy would broadcast (4,1)+(4,2) silently: refuse instead
            raise DepthlabError(
                f"residual branch gives shape {fx.shape} but the skip gives {skip.shape}; add a projection"
            )
        return fx + skip

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dskip = dy if self.projection is None else self.projection.backward(dy)
        return self.inner.backward(dy) + dskip
