"""Degradation at a rung: a depth that trains but is worse than a shallower one, beyond the intervals.

He et al. 2016 (arXiv 1512.03385) call a deeper net *degraded* when it fits its training data worse than its
shallower twin at an equal budget (``depthlab.diagnose.degradation``, the doctor's rule). At a rung every
depth has trained the same steps, so the advisor reads it there: the depth's predicted interval lies wholly
below a shallower depth's (worse beyond the evidence), and its training loss (eval mode, the whole training
split) is higher than that depth's by more than the doctor's minimum effect, ``MIN_LOSS_GAP``. The second
condition separates degradation from overfitting: a deeper net that overfits fits its training data *better*.
One seed per depth at a rung, so the paired interval over seeds that the doctor's rule asks for is replaced
by the prediction intervals. The remedy is the doctor's for degradation: residual connections with batch
normalization (``diagnose.remedies.degradation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from depthlab.advise.advice import Candidate
from depthlab.advise.runs import remedy_variants
from depthlab.diagnose.degradation import MIN_LOSS_GAP

REMEDY = "residual+BN"


def degraded_by(depth: int, candidates: Mapping[int, Candidate]) -> str | None:
    """Why ``depth`` reads as degraded against a shallower candidate at the same rung, or None."""
    me = candidates[depth]
    mine = _train_loss(me)
    if me.prediction is None or mine is None:
        return None
    for shallower in sorted(d for d in candidates if d < depth):
        other = candidates[shallower]
        theirs = _train_loss(other)
        if other.prediction is None or theirs is None:
            continue
        if me.prediction.high < other.prediction.low and mine - theirs > MIN_LOSS_GAP:
            return (
                f"worse than depth {shallower} beyond the intervals at {me.rung_steps} steps, training loss "
                f"{mine - theirs:+.3f} higher (degradation)"
            )
    return None


def _train_loss(candidate: Candidate) -> float | None:
    run = candidate.rung_run
    return None if run is None or run.get("status") != "ok" else run.get("train_loss")


def remedy_for_degradation(model: str, options: Mapping[str, Any], depth: int) -> tuple[str, dict] | None:
    """The residual + BN variant of ``depth`` when the model takes it and the user left the variant open."""
    return next(((n, k) for n, k in remedy_variants(model, options, depth) if n == REMEDY), None)
