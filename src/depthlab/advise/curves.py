"""Learning-curve extrapolation: where will this run's validation accuracy be after ``T`` steps?

Domhan, Springenberg & Hutter 2015 (IJCAI, "Speeding up automatic hyperparameter optimization of deep neural
networks by extrapolation of learning curves") fit a weighted ensemble of saturating parametric families to
the first part of a curve and stop runs that are unlikely to beat the best; LC-PFN (Adriaensen et al. 2023,
NeurIPS, arXiv 2310.20447) replaces the MCMC with a prior-fitted transformer. Here the same idea at the size a
laptop affords: three families fitted by least squares (``scipy.optimize.curve_fit``),

- power law ``y(t) = c - a * t^(-b)`` (Domhan's ``pow3``),
- exponential ``y(t) = c - a * exp(-t / tau)``,
- log-linear ``y(t) = c + a * log(t)`` (a member that does not saturate),

the prediction ``y(T)`` is the best-fitting family's (smallest residual variance), and the interval is the
union of all three families' 95% delta-method intervals (``J Σ J^T`` from the fit's covariance, plus the
residual noise), so the choice of family is part of the uncertainty. The log-linear member is there because
a saturating fit to a curve that is still rising at the end of the rung reads a pause as the ceiling: deeper
MLPs on MNIST-1D sit at 48-54% for the first 333 steps and rise to 67-70% by 1000; while a curve still moves,
its upper bound stays at least where its current rate of rise would take it. Values are clipped to the
score's range ([0, 1] for accuracy; at most 0 for minus the RMSE of a regression, whose curve rises the same
way as it falls toward its floor). A curve too short or too flat to fit gives a prediction at its last value
with an interval as wide as the spread of what was seen.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

Z95 = float(sps.norm.ppf(0.975))
MIN_POINTS = 4  # three parameters and at least one degree of freedom


@dataclass(frozen=True)
class Prediction:
    """The extrapolated value at ``at`` steps with its 95% interval, and which family produced it."""

    mean: float
    low: float
    high: float
    at: int
    family: str
    bounds: tuple[float, float] = (0.0, 1.0)  # the score's range (not part of to_dict)

    def widened(self, sd: float, dof: int | None = None) -> Prediction:
        """The interval widened by independent noise of standard deviation ``sd`` (seed-to-seed spread), at
        the 95% Student-t quantile when ``sd`` was estimated with ``dof`` degrees of freedom."""
        q = float(sps.t.ppf(0.975, dof)) if dof else Z95
        half_low = math.hypot(self.mean - self.low, q * sd)
        half_high = math.hypot(self.high - self.mean, q * sd)
        low, high = _clip(self.mean - half_low, self.bounds), _clip(self.mean + half_high, self.bounds)
        return Prediction(self.mean, low, high, self.at, self.family, self.bounds)

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "at": self.at, "family": self.family}


def power_law(t: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    return c - a * np.power(t, -b)


def exponential(t: np.ndarray, c: float, a: float, tau: float) -> np.ndarray:
    return c - a * np.exp(-t / tau)


def log_linear(t: np.ndarray, c: float, a: float) -> np.ndarray:
    return c + a * np.log(t)


def _clip(value: float, bounds: tuple[float, float] = (0.0, 1.0)) -> float:
    return float(min(bounds[1], max(bounds[0], value)))


def _fit(
    family: Callable, steps: np.ndarray, values: np.ndarray, target: int, p0: list, bounds: tuple
) -> tuple[float, float, float] | None:
    """(prediction at target, its standard error, residual variance, its degrees of freedom), or None when
    the fit fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # covariance warnings on near-flat curves: handled below
            params, cov = optimize.curve_fit(family, steps, values, p0=p0, bounds=bounds, maxfev=4000)
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return None
    residual = values - family(steps, *params)
    sse = float(residual @ residual)
    dof = max(1, len(steps) - len(params))
    sigma2 = sse / dof
    step = 1e-6 * np.maximum(1.0, np.abs(params))
    jac = np.array(
        [
            (family(target, *(params + e)) - family(target, *(params - e))) / (2 * e[i])
            for i, e in enumerate(np.diag(step))
        ]
    )
    if not np.all(np.isfinite(cov)):
        return None
    var = float(jac @ cov @ jac) + sigma2
    return float(family(target, *params)), math.sqrt(max(var, 0.0)), sigma2, dof


def extrapolate(
    steps: Sequence[float], values: Sequence[float], target: int, bounds: tuple[float, float] = (0.0, 1.0)
) -> Prediction:
    """Predict ``values`` (a score, higher is better, within ``bounds``: validation accuracy by default) at
    step ``target`` from a learning curve."""
    t, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(t) & np.isfinite(y) & (t > 0)
    t, y = t[keep], y[keep]
    if len(t) < MIN_POINTS or np.ptp(y) == 0:
        return _flat(y, target, bounds)
    span, top = float(t.max()), float(y.max())
    fits = {
        "power law": _fit(
            power_law,
            t,
            y,
            target,
            [top, max(top - y[0], 1e-3) * t[0] ** 0.5, 0.5],
            ([bounds[0], 0.0, 0.05], [bounds[1], np.inf, 3.0]),
        ),
        "exponential": _fit(
            exponential,
            t,
            y,
            target,
            [top, max(top - y[0], 1e-3), span / 3],
            ([bounds[0], 0.0, 1e-3], [bounds[1], 10.0, 100.0 * target]),
        ),
        "log-linear": _fit(log_linear, t, y, target, [y[0], 0.01], ([-np.inf, -np.inf], [np.inf, np.inf])),
    }
    fits = {k: v for k, v in fits.items() if v is not None}
    if not fits:
        return _flat(y, target, bounds)
    family = min(fits, key=lambda k: fits[k][2])
    plausible = [f for f in fits.values() if _not_rejected(f, fits[family])]
    lows = [m - Z95 * se for m, se, *_ in plausible]
    highs = [m + Z95 * se for m, se, *_ in plausible]
    mean = _clip(fits[family][0], bounds)
    low, high = min(_clip(min(lows), bounds), mean), max(_clip(max(highs), bounds), mean)
    return Prediction(mean, low, high, int(target), family, bounds)


def _not_rejected(fit: tuple, best: tuple) -> bool:
    """A family joins the interval unless its residual variance is significantly above the best family's
    (one-sided F test at 5%): a log-linear line through a curve that has already flattened fits it badly
    and says nothing about where it goes."""
    return fit[2] <= best[2] * float(sps.f.ppf(0.95, fit[3], best[3]))


def _flat(values: np.ndarray, target: int, bounds: tuple[float, float]) -> Prediction:
    """Too few points, or no change: the last value, as uncertain as the spread of the curve."""
    if len(values) == 0:
        return Prediction(math.nan, bounds[0], bounds[1], int(target), "none", bounds)
    last = float(values[-1])
    half = max(float(np.ptp(values)), 0.05)
    low, high = _clip(last - half, bounds), _clip(last + half, bounds)
    return Prediction(last, low, high, int(target), "last value", bounds)
