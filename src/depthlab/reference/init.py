"""Weight initializations by name: the seed's ``np.random.rand``, Xavier/Glorot, He.

Xavier: Glorot & Bengio 2010 (keeps activation variance for tanh/sigmoid).
He: He et al. 2015, arXiv:1502.01852 (keeps it for ReLU).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from depthlab.registry import Registry

Init = Callable[[np.random.RandomState, int, int], np.ndarray]
INITS: Registry[Init] = Registry("init")


@INITS.register("rand")
def rand_init(rng: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    """Uniform on [0, 1) as the seed's ``np.random.rand``: all weights positive, units start alike."""
    return rng.rand(fan_in, fan_out)


@INITS.register("xavier")
def xavier_init(rng: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_in, fan_out))


@INITS.register("he")
def he_init(rng: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    """He normal: N(0, 2 / fan_in)."""
    return rng.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)


def init_weight(name: str, rng: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    """A (fan_in, fan_out) float64 weight matrix from the named init."""
    return INITS.get(name)(rng, fan_in, fan_out).astype(np.float64)
