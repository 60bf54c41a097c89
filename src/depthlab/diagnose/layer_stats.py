"""Per-layer statistics computed on the device, as 0-d tensors (no host sync until the table is read).

Dead units (ReLU family): a unit (a feature of a Linear output, a channel of a conv output) whose activation
is never positive over the whole batch (and every position) gets no gradient through the nonlinearity: it is
dead for that batch. ``y > 0`` iff ``x > 0`` for ReLU, ReLU6, Leaky ReLU, PReLU, ELU, SELU, CELU, GELU, SiLU,
Mish and Hardswish, so the test runs on the output and stays right for in-place activations.

Saturation (Glorot & Bengio 2010): the fraction of activation values within ``SATURATION_MARGIN`` of the
output range from one of the bounds of a sigmoid-like unit (sigmoid: below 0.01 or above 0.99; tanh: |y| >
0.98), where the derivative nearly vanishes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

SATURATION_MARGIN = 0.01  # of the output range, from either bound

DEAD_FAMILY = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.RReLU,
    nn.Hardswish,
)
SATURATING = (nn.Sigmoid, nn.Tanh, nn.Softsign, nn.Hardtanh, nn.Hardsigmoid)


def output_bounds(module: nn.Module) -> tuple[float, float] | None:
    """(low, high) of a saturating activation, or None for the others."""
    if isinstance(module, DEAD_FAMILY):  # ReLU6 is a Hardtanh but dies rather than saturates at 0
        return None
    if isinstance(module, nn.Hardtanh):
        return float(module.min_val), float(module.max_val)
    if isinstance(module, (nn.Sigmoid, nn.Hardsigmoid)):
        return 0.0, 1.0
    if isinstance(module, (nn.Tanh, nn.Softsign)):
        return -1.0, 1.0
    return None


def is_activation(module: nn.Module) -> bool:
    """True for the nonlinearities whose health watch measures."""
    return isinstance(module, DEAD_FAMILY + SATURATING)


def grad_norm(grad: torch.Tensor) -> torch.Tensor:
    """L2 norm of a gradient tensor in float32 (its RMS is this over sqrt(numel))."""
    return torch.linalg.vector_norm(grad.detach(), dtype=torch.float32)


def moments(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(sum, L2 norm, count): two cheap reductions (``torch.std_mean`` is ~10x slower on CPU)."""
    y = y.detach()
    return y.sum(dtype=torch.float32), torch.linalg.vector_norm(y, dtype=torch.float32), y.numel()


def mean_std(total: float, norm: float, count: float) -> tuple[float, float]:
    """Mean and unbiased std from ``moments`` read on the host (Python floats are doubles)."""
    if not count > 0:
        return math.nan, math.nan
    mean = total / count
    variance = (norm * norm - count * mean * mean) / max(count - 1, 1)
    return mean, math.sqrt(max(variance, 0.0))


def unit_peaks(y: torch.Tensor, unit_dim: int) -> torch.Tensor:
    """Each unit's largest value over the batch and positions (a unit is dead where it is <= 0)."""
    y = y.detach()
    if y.dim() < 2:
        return y.reshape(-1)
    return y.amax(dim=[d for d in range(y.dim()) if d != unit_dim % y.dim()])


def alive_counts(peaks: list[torch.Tensor]) -> list[torch.Tensor]:
    """Units with a positive peak, per layer, in a handful of ops for all layers together."""
    if not peaks:
        return []
    if len({p.dtype for p in peaks}) > 1:  # mixed precision: some layers in float32, some in half
        peaks = [p.float() for p in peaks]
    padded = nn.utils.rnn.pad_sequence(peaks, padding_value=-1.0)  # (most units, layers); no host copy
    return list((padded > 0).sum(dim=0))


def saturated_count(y: torch.Tensor, bounds: tuple[float, float]) -> tuple[torch.Tensor, int]:
    """(values within SATURATION_MARGIN of the range from either bound, number of values)."""
    low, high = bounds
    half = (high - low) / 2
    distance = (y.detach() - (low + half)).abs()  # from the centre of the range
    return (distance >= half * (1 - 2 * SATURATION_MARGIN)).sum(), y.numel()
