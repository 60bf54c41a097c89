"""The best L2 fit of a 1-D function by a given number of linear pieces: exact segmented least squares by
dynamic programming over the breakpoints (Bellman 1961, "On the approximation of curves by line segments
using dynamic programming").

The pieces are free to jump at the breakpoints, so the result is the least MSE that *any* piecewise-linear
function with that many pieces reaches on the given points. A one-hidden-layer ReLU net with m units computes
a continuous piecewise-linear function of one input with at most m + 1 pieces, so no such net does better
than ``best_piecewise_mse(x, y, m + 1)``: it is the "best achievable shallow approximation" the composition
study compares the deep construction with (Telgarsky 2015, arXiv 1509.08101).

Cost: O(n^2) memory and O(pieces * n^2) time for n points (about a second for n = 1500, 13 pieces).
"""

from __future__ import annotations

import numpy as np


def segment_costs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``cost[i, j]``: the residual sum of squares of the least-squares line through points i..j (inclusive,
    x sorted); +inf below the diagonal."""
    x = x - x.mean()  # centring keeps the sums' cancellation small
    y = y - y.mean()
    sums = [np.concatenate([[0.0], np.cumsum(v)]) for v in (np.ones_like(x), x, y, x * x, x * y, y * y)]
    n, sx, sy, sxx, sxy, syy = (s[None, 1:] - s[:-1, None] for s in sums)  # [i, j] over points i..j
    with np.errstate(divide="ignore", invalid="ignore"):
        vxx = sxx - sx * sx / n
        vxy = sxy - sx * sy / n
        vyy = syy - sy * sy / n
        cost = vyy - np.where(vxx > 1e-12 * np.maximum(sxx, 1e-300), vxy * vxy / vxx, 0.0)
    cost = np.maximum(cost, 0.0)
    cost[np.tril_indices(len(x), -1)] = np.inf
    return cost


def best_piecewise_mse(x: np.ndarray, y: np.ndarray, pieces: int) -> float:
    """The least mean squared error of any function with at most ``pieces`` linear pieces on the points."""
    order = np.argsort(np.asarray(x, dtype=float).ravel())
    xs = np.asarray(x, dtype=float).ravel()[order]
    ys = np.asarray(y, dtype=float).ravel()[order]
    cost = segment_costs(xs, ys)
    best = cost[0].copy()  # best[j]: least SSE of points 0..j with the pieces used so far
    for _ in range(pieces - 1):
        # a new last piece starts at point i >= 1 and ends at j: best[i - 1] + cost[i, j]
        extended = (best[:-1, None] + cost[1:, :]).min(axis=0)
        best = np.minimum(best, extended)
    return float(best[-1] / len(xs))
