"""Degradation, as He et al. 2016 (arXiv 1512.03385) define it, in one place: the studies (depth, residual)
and the doctor judge it with :func:`judge`.

A deeper plain net is *degraded* when, at an equal training budget, its training error is higher than its
shallower twin's (their Fig. 1 and Fig. 6: plain-56 above plain-20 throughout the schedule). A deeper net that
is only behind because it starts slower is not degraded, so the rule reads each twin at two points of the same
budget, the middle and the end (the same kind of reading at both: training error or loss in eval mode):

1. the shallower twin has settled: over the last half of the budget it gained less than the minimum effect,
   on average over seeds. So the budget is at least ``K`` = 2 times the steps it needed to come within the
   minimum effect of where it ends; otherwise the comparison is too early: inconclusive, "a longer budget".
2. the deeper twin's error at the end is higher by more than the minimum effect: the paired interval over
   seeds (``depthlab.stats``) decides held / did not hold / inconclusive;
3. and the gap is not closing: over the last half of the budget the mean gap shrank by at most ``CLOSING`` of
   itself. A gap that shrinks faster is "slower to train", not degradation: inconclusive, with the numbers.

The doctor trains the model and its half-depth twin over paired seeds (:func:`train_twins`) and maps the
outcome to its verdicts: held → PROBLEM (with the remedy), did not hold → ok, inconclusive → a note saying
why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from depthlab import stats
from depthlab.diagnose import remedies
from depthlab.diagnose.verdict import NOTE, OK, PROBLEM, Verdict

K = 2  # the budget is at least K times the steps the shallower twin needed: readings at 1/K and at the end
CLOSING = 0.25  # a gap that shrank by more than this fraction of itself over the last half is closing
SLOWER = "slower to train"

CHECK = "degradation"
# 0.05 nats of cross-entropy: the gap between predicting the right class with p = 0.95 and p = 0.90 on
# average; smaller gaps at the end of an equal budget are not the failure to fit that He et al. describe.
MIN_LOSS_GAP = 0.05
COMPARISON = stats.Comparison(
    "degradation", "training loss at an equal budget, deeper minus shallower", 1, MIN_LOSS_GAP, "t", "", 1.0
)


@dataclass(frozen=True)
class Readings:
    """One seed's training error (the comparison's units, higher is worse) of each twin at the middle and at
    the end of the equal budget."""

    shallow_mid: float
    shallow_end: float
    deep_mid: float
    deep_end: float


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def judge(comparison: stats.Comparison, seeds: Mapping[Any, Readings], budget: int) -> stats.Clause:
    """The degradation clause over paired seeds (see the module docstring); ``comparison`` states the
    statistic (deeper minus shallower training error), the direction (+1) and the minimum effect."""
    readings = list(seeds.values())
    clause = comparison.judge(r.deep_end - r.shallow_end for r in readings)

    def fmt(value: float) -> str:
        return f"{value * comparison.scale:+.{1 if comparison.scale > 1 else 3}f}{comparison.unit}"

    settled = _mean([r.shallow_mid - r.shallow_end for r in readings])
    if not readings or not settled < comparison.min_effect:
        return clause.overruled(
            stats.INCONCLUSIVE,
            f"too early: the shallower twin still gained {fmt(settled)} over the last half of the "
            f"{budget}-step budget (its plateau needs a gain under {fmt(comparison.min_effect)}); a budget "
            f"of {K * budget} steps would settle it",
        )
    mid, end = gap_trend(seeds)
    if clause.outcome == stats.HELD and mid > 0 and mid - end > CLOSING * mid:
        return clause.overruled(
            stats.INCONCLUSIVE,
            f"{SLOWER}, not degradation: the gap shrank from {fmt(mid)} at step {budget // K} to "
            f"{fmt(end)} at step {budget} (by more than {CLOSING:.0%} of itself)",
        )
    return clause


def gap_trend(seeds: Mapping[Any, Readings]) -> tuple[float, float]:
    """The mean gap (deeper minus shallower) at the middle and at the end of the budget."""
    readings = list(seeds.values())
    return (
        _mean([r.deep_mid - r.shallow_mid for r in readings]),
        _mean([r.deep_end - r.shallow_end for r in readings]),
    )


# --- the doctor's protocol ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwinPlan:
    """How the doctor trains the two depths: the equal step budget and the seeds."""

    steps: int = 4000
    seeds: int = 3


@dataclass
class TwinRuns:
    """The doctor's twin runs: per seed, each depth's smoothed training loss at the middle and the end."""

    depth: int
    twin_depth: int
    readings: dict[int, Readings] = field(default_factory=dict)
    diverged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "twin_depth": self.twin_depth,
            "train_loss": {
                str(self.depth): {s: r.deep_end for s, r in self.readings.items()},
                str(self.twin_depth): {s: r.shallow_end for s, r in self.readings.items()},
            },
            "train_loss_mid": {
                str(self.depth): {s: r.deep_mid for s, r in self.readings.items()},
                str(self.twin_depth): {s: r.shallow_mid for s, r in self.readings.items()},
            },
        }


def record_at(records: list[dict[str, Any]], step: int, key: str) -> float:
    """Evaluation record ``key`` nearest ``step`` (NaN when no record has it): a twin's mid-budget reading."""
    found = [r for r in records if r.get(key) is not None]
    if not found:
        return float("nan")
    return float(min(found, key=lambda r: abs(r["step"] - step))[key])


def loss_at(history, step: int) -> float:
    """The training loss of the whole training split (eval mode) at the evaluation record nearest ``step``
    (``eval_train`` runs); the final pass for the last step."""
    if step >= history.steps:
        return history.final.get("train_loss", float("nan"))
    return record_at(history.records, step, "trainset_loss")


def train_twins(train: Callable[[int, int], Any], depth: int, plan: TwinPlan) -> TwinRuns:
    """Train ``depth`` and ``depth // 2`` for the same budget over ``plan.seeds`` paired seeds; ``train(depth,
    seed)`` builds and trains a fresh net, its init seeded like its data order, and must record eval-mode
    training losses (``eval_train``) about the middle of the budget."""
    runs = TwinRuns(depth, depth // 2)
    for seed in range(plan.seeds):
        histories = {d: train(d, seed) for d in (depth, depth // 2)}
        runs.diverged |= any(h.status == "diverged" for h in histories.values())
        if runs.diverged:
            break
        deep, shallow = histories[depth], histories[depth // 2]
        mid = plan.steps // K
        runs.readings[seed] = Readings(
            loss_at(shallow, mid), loss_at(shallow, plan.steps), loss_at(deep, mid), loss_at(deep, plan.steps)
        )
    return runs


def verdict(runs: TwinRuns, plan: TwinPlan, config: Mapping[str, Any] | None) -> Verdict:
    """The doctor's degradation verdict from the twin runs."""
    deep, shallow = runs.depth, runs.twin_depth
    if runs.diverged:
        return Verdict(CHECK, NOTE, f"not judged: a run of depth {deep} or {shallow} diverged")
    clause = judge(COMPARISON, runs.readings, plan.steps)
    iv = clause.interval
    text = (
        f"after {plan.steps} steps each, training loss of depth {deep} minus depth {shallow}: "
        f"{iv.estimate:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}] (n={iv.n} seeds, paired t; degradation when "
        f"the interval lies above +{MIN_LOSS_GAP:g} and the gap is not closing)"
    )
    if clause.outcome == stats.HELD:
        return Verdict(CHECK, PROBLEM, text, remedies.degradation(config, shallow))
    if clause.outcome == stats.NOT_HELD:
        return Verdict(CHECK, OK, text)
    if clause.reason.startswith(SLOWER):
        return Verdict(CHECK, NOTE, f"{clause.reason}; {text}")
    return Verdict(CHECK, NOTE, f"not judged: {clause.reason}; {text}")
