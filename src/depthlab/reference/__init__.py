"""NumPy-only reference networks: the second seed's three examples done right, backward gradient-checked.

Tiny and readable in the spirit of micrograd: each layer is a small class with ``forward(x)`` and
``backward(dy)``; ``params`` and ``grads`` are dicts; no autograd.
"""

from depthlab.reference.examples import EXAMPLES, ExampleResult, run_example, sweep
from depthlab.reference.gradcheck import check_layer, numerical_grad, relative_error
from depthlab.reference.init import INITS, init_weight
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
from depthlab.reference.network import (
    ACTIVATIONS,
    NORMS,
    TrainResult,
    build_mlp,
    train_xor,
    weight_grad_norms,
    xor_experiment,
)
from depthlab.reference.optim import SGD

__all__ = [
    "ACTIVATIONS",
    "EXAMPLES",
    "INITS",
    "MSE",
    "NORMS",
    "SGD",
    "BatchNorm",
    "Dense",
    "ExampleResult",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Residual",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainResult",
    "build_mlp",
    "check_layer",
    "init_weight",
    "numerical_grad",
    "relative_error",
    "run_example",
    "set_training",
    "sweep",
    "train_xor",
    "walk",
    "weight_grad_norms",
    "xor_experiment",
]
