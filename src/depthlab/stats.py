"""Verdict statistics: paired per-seed differences, 95% intervals, a minimum effect, and three outcomes.

The standard every verdict in depthlab meets (studies, the doctor, the advisor); see docs/statistics.md.
The unit of evidence is a seed; variants that share a seed are compared by their per-seed **differences**.
With 5-10 seeds a percentile bootstrap is too narrow (Agarwal et al. 2021, arXiv 2108.13264), so intervals
are paired t-intervals or BCa bootstraps (scipy); rates (stalled, diverged) get Wilson intervals, their
difference Newcombe's hybrid score interval, and Fisher's exact test.

Outcomes, for a claim that predicts an effect of sign ``direction`` and size at least ``min_effect``:
- held: the interval lies entirely on the predicted side, beyond the minimum effect;
- did not hold: the interval lies entirely on the other side of zero, or entirely inside ±min_effect;
- inconclusive: anything else. :func:`reason` says, from the numbers, what was missing or what was measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from depthlab.errors import DepthlabError

HELD = "held"
NOT_HELD = "did not hold"
INCONCLUSIVE = "inconclusive"
OUTCOMES = (HELD, NOT_HELD, INCONCLUSIVE)
CONFIDENCE = 0.95
Method = Literal["t", "bca"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval, the number of seeds (or trials) and the method."""

    estimate: float
    low: float
    high: float
    n: int
    method: str

    def format(self, scale: float = 1.0, unit: str = "", digits: int = 1) -> str:
        """'+3.2 [+1.1, +5.3] pts (n=5, paired t)' with values multiplied by ``scale``."""
        f = f"{{:+.{digits}f}}"
        e, lo, hi = (f.format(v * scale) for v in (self.estimate, self.low, self.high))
        return f"{e} [{lo}, {hi}]{unit} (n={self.n}, {self.method})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "method": self.method,
        }


def _finite(values: Iterable[float]) -> np.ndarray:
    array = np.asarray([float(v) for v in values], dtype=float)
    return array[np.isfinite(array)]


def paired_t(diffs: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of the per-seed differences with its Student-t interval (NaN bounds with fewer than 2 seeds)."""
    d = _finite(diffs)
    n = len(d)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "paired t")
    mean = float(d.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, "paired t")
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, "paired t")


def bca(diffs: Iterable[float], confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """Mean of the differences with a BCa bootstrap interval; falls back to the t-interval when the sample is
    degenerate (all equal, or too few seeds for the jackknife)."""
    d = _finite(diffs)
    if len(d) < 3 or np.ptp(d) == 0:
        return paired_t(d, confidence)
    result = sps.bootstrap(
        (d,), np.mean, confidence_level=confidence, method="BCa", n_resamples=2000, random_state=seed
    )
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return paired_t(d, confidence)
    return Interval(float(d.mean()), float(low), float(high), len(d), "BCa bootstrap")


def interval(diffs: Iterable[float], method: Method = "t", confidence: float = CONFIDENCE) -> Interval:
    """The interval of the mean difference by ``method``: ``"t"`` (paired t) or ``"bca"``."""
    if method == "t":
        return paired_t(diffs, confidence)
    if method == "bca":
        return bca(diffs, confidence)
    raise DepthlabError(f"interval method {method!r}: valid methods are 't', 'bca'")


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """A rate k/n with its Wilson score interval."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "Wilson")
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(k / n, float(ci.low), float(ci.high), n, "Wilson")


def rate_difference(k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE) -> Interval:
    """p1 - p2 with Newcombe's hybrid score interval (built from the two Wilson intervals; Newcombe 1998)."""
    a, b = wilson(k1, n1, confidence), wilson(k2, n2, confidence)
    if min(n1, n2) == 0:
        return Interval(math.nan, math.nan, math.nan, min(n1, n2), "Newcombe")
    d = a.estimate - b.estimate
    low = d - math.hypot(a.estimate - a.low, b.high - b.estimate)
    high = d + math.hypot(a.high - a.estimate, b.estimate - b.low)
    return Interval(d, low, high, min(n1, n2), "Newcombe")


def fisher_p(k1: int, n1: int, k2: int, n2: int, alternative: str = "two-sided") -> float:
    """Fisher's exact test p-value for the rates k1/n1 vs k2/n2 (``alternative`` as in scipy: 'greater'
    means rate 1 > rate 2)."""
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(sps.fisher_exact(table, alternative=alternative).pvalue)


def outcome(iv: Interval, direction: int = 1, min_effect: float = 0.0) -> str:
    """held / did not hold / inconclusive for an interval, a predicted sign and a minimum effect."""
    if direction not in (1, -1):
        raise DepthlabError(f"direction={direction}: must be 1 or -1")
    if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return INCONCLUSIVE
    low, high = sorted((direction * iv.low, direction * iv.high))  # the predicted side is now positive
    if low > min_effect:
        return HELD
    if high < 0 or (min_effect > 0 and -min_effect < low and high < min_effect):
        return NOT_HELD
    return INCONCLUSIVE


def reason(iv: Interval, direction: int, min_effect: float, scale: float = 1.0, unit: str = "") -> str:
    """Why an interval is not "held", from its numbers: a reversed effect, an effect inside the minimum, or
    for an inconclusive one which bound it straddles and about how many seeds would decide an effect of the
    size measured (the interval narrows as 1/sqrt(n)); "" when it held."""
    verdict = outcome(iv, direction, min_effect)
    if verdict == HELD:
        return ""
    if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return f"only {iv.n} paired value(s): an interval needs at least 2"
    bound = f"{direction * min_effect * scale + 0.0:g}{unit}"
    low, high = sorted((direction * iv.low, direction * iv.high))
    if verdict == NOT_HELD:
        if high < 0:
            return "the effect is reversed: the whole interval lies on the other side of 0"
        return f"the whole interval lies within ±{bound.lstrip('-')}: too small to matter"
    edge = min_effect if low <= min_effect < high else 0.0
    half = (high - low) / 2
    gap = abs(direction * iv.estimate - edge)
    where = f"the minimum effect {bound}" if edge else "0"
    if gap < 1e-12 or half <= 0:
        return f"the interval straddles {where} with the estimate on it"
    needed = math.ceil(iv.n * (half / gap) ** 2)
    return (
        f"the interval straddles {where}; an effect of this size would need about {needed} seeds "
        f"(n={iv.n} now)"
    )


def paired_differences(a: Mapping[Any, float], b: Mapping[Any, float]) -> list[float]:
    """a[seed] - b[seed] for the seeds present (and finite) in both, in seed order."""
    shared = sorted(set(a) & set(b))
    diffs = [float(a[s]) - float(b[s]) for s in shared]
    return [d for d in diffs if math.isfinite(d)]


@dataclass(frozen=True)
class Comparison:
    """One stated comparison of a claim: the per-seed statistic, the predicted direction, the minimum
    effect (in the statistic's units) and the interval method. ``judge`` turns per-seed values into a
    :class:`Clause`."""

    name: str
    statistic: str
    direction: int = 1
    min_effect: float = 0.0
    method: Method = "t"
    unit: str = " pts"
    scale: float = 100.0  # accuracy fractions print as points

    def judge(self, diffs: Iterable[float]) -> Clause:
        return self.judge_interval(interval(list(diffs), self.method))

    def judge_interval(self, iv: Interval) -> Clause:
        """The clause for an interval computed elsewhere (a rate difference, say)."""
        why = reason(iv, self.direction, self.min_effect, self.scale, self.unit)
        return Clause(self, iv, outcome(iv, self.direction, self.min_effect), why)

    def judge_paired(self, a: Mapping[Any, float], b: Mapping[Any, float]) -> Clause:
        """Judge a[seed] - b[seed] over the shared seeds."""
        return self.judge(paired_differences(a, b))

    def rule(self) -> str:
        """The rule in one line."""
        sign = ">" if self.direction > 0 else "<"
        bound = f"{self.direction * self.min_effect * self.scale + 0.0:g}{self.unit}"  # + 0.0: no "-0"
        return f"{self.name}: 95% interval of [{self.statistic}] entirely {sign} {bound}"


@dataclass(frozen=True)
class Clause:
    """A judged comparison: its interval and outcome."""

    comparison: Comparison
    interval: Interval
    outcome: str
    reason: str = ""  # what was missing or measured, when it did not hold

    def sentence(self) -> str:
        c = self.comparison
        why = f" ({self.reason})" if self.reason and self.outcome != HELD else ""
        return f"{c.name}: {self.outcome}, {self.interval.format(c.scale, c.unit)}{why}"

    def overruled(self, outcome: str, reason: str) -> Clause:
        """The same interval with another outcome and the reason for it (a gate the interval cannot see)."""
        return Clause(self.comparison, self.interval, outcome, reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.comparison.name,
            "statistic": self.comparison.statistic,
            "rule": self.comparison.rule(),
            "outcome": self.outcome,
            "reason": self.reason,
            **self.interval.to_dict(),
        }


def combine(clauses: Sequence[Clause]) -> str:
    """A multi-clause claim: held only when every clause held; did not hold when any clause did not;
    otherwise inconclusive."""
    outcomes = [c.outcome for c in clauses]
    if not outcomes:
        return INCONCLUSIVE
    if NOT_HELD in outcomes:
        return NOT_HELD
    if all(o == HELD for o in outcomes):
        return HELD
    return INCONCLUSIVE


def deciding(clauses: Sequence[Clause]) -> Clause | None:
    """The clause that decided a combined outcome: the first that did not hold, else the first
    inconclusive."""
    for wanted in (NOT_HELD, INCONCLUSIVE):
        for clause in clauses:
            if clause.outcome == wanted:
                return clause
    return None


@dataclass(frozen=True)
class OneSE:
    """The one-standard-error rule's choice: the shallowest size whose mean is within one SE of the best."""

    chosen: Any
    best: Any
    best_mean: float
    best_se: float
    means: dict[Any, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "best": self.best,
            "best_mean": self.best_mean,
            "best_se": self.best_se,
        }


def one_se_rule(per_size: Mapping[Any, Iterable[float]]) -> OneSE | None:
    """Hastie, Tibshirani & Friedman's one-SE rule over sizes (e.g. depths) with per-seed scores (higher is
    better): None when no size has two finite scores."""
    scores = {k: _finite(v) for k, v in per_size.items()}
    scores = {k: v for k, v in scores.items() if len(v) >= 2}
    if not scores:
        return None
    means = {k: float(v.mean()) for k, v in scores.items()}
    best = max(means, key=means.get)
    se = float(scores[best].std(ddof=1) / math.sqrt(len(scores[best])))
    chosen = min(k for k, m in means.items() if m >= means[best] - se)
    return OneSE(chosen, best, means[best], se, means)
