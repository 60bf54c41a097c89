"""Stochastic gradient descent with (heavy-ball) momentum, as PyTorch's SGD: v ← μv + g; p ← p − lr·v."""

from __future__ import annotations

import numpy as np

from depthlab.reference.layers import Layer, walk


class SGD:
    """Updates every parameter of ``model`` in place from the grads its last backward left."""

    def __init__(self, model: Layer, lr: float = 0.1, momentum: float = 0.0):
        self.model, self.lr, self.momentum = model, lr, momentum
        self.velocity: dict[tuple[int, str], np.ndarray] = {}

    def step(self) -> None:
        """One update of every parameter."""
        for layer in walk(self.model):
            for key, param in layer.params.items():
                grad = layer.grads[key]
                if self.momentum:
                    v = self.velocity.get((id(layer), key), np.zeros_like(param))
                    grad = self.velocity[(id(layer), key)] = self.momentum * v + grad
                param -= self.lr * grad
