"""Central finite differences: the oracle every backward is checked against (use float64)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from depthlab.reference.layers import Layer, walk


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dL/dx by (f(x + ε) − f(x − ε)) / 2ε per element; ``x`` is perturbed in place and restored."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        plus = f()
        x[i] = saved - eps
        minus = f()
        x[i] = saved
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / max(‖a‖, ‖b‖); 0 when both are zero."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def check_layer(layer: Layer, x: np.ndarray, seed: int = 1) -> dict[str, float]:
    """Relative error of backward against finite differences for the input and every parameter.

    The loss is L = Σ forward(x) · dy for a fixed random dy, so dL/d(output) = dy. Keys: "x", and
    "<index>.<name>" for parameters of the index-th layer inside ``layer`` (depth first).
    """
    dy = np.random.RandomState(seed).randn(*layer.forward(x).shape)

    def loss() -> float:
        return float(np.sum(layer.forward(x) * dy))

    layer.forward(x)
    analytic_x = layer.backward(dy)
    analytic = {f"{i}.{k}": g.copy() for i, sub in enumerate(walk(layer)) for k, g in sub.grads.items()}
    errors = {"x": relative_error(analytic_x, numerical_grad(loss, x))}
    for i, sub in enumerate(walk(layer)):
        for key, param in sub.params.items():
            errors[f"{i}.{key}"] = relative_error(analytic[f"{i}.{key}"], numerical_grad(loss, param))
    return errors
