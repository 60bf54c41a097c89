"""The compute plan of an advice: probe steps, the halving rungs, the finalists' runs, and what it all costs
against the exhaustive grid (every depth x every seed x the full budget); and the halving's decisions:
successive halving over depth, decided by extrapolated learning curves instead of current accuracy.

Successive halving (Jamieson & Talwalkar 2016, AISTATS, arXiv 1502.07943; Li et al. 2018, Hyperband, JMLR,
arXiv 1603.06560) trains every candidate briefly, keeps the best ``1/eta``, multiplies the budget by ``eta``
and repeats. Ranking by the accuracy reached *so far* assumes learning curves do not cross, which penalizes
deeper nets that start slower (ASHA in Ray Tune keeps the top quarter by current value). Here each rung judges
depths by the 95% interval of the accuracy their curve is *predicted* to reach at the full budget
(``curves.extrapolate``): a depth is ruled out only when its interval's upper end is below the best lower end
of any depth (what the evidence cannot rule out is kept, as in racing methods: Maron & Moore 1994, Hoeffding
races), and when more depths remain than the rung may keep, the ones kept are those with the highest upper end
(optimism in the face of uncertainty: Auer et al. 2002, UCB), since the depth a wrong point prediction would
cut most unfairly is the one whose curve is least settled. The last rung's survivors are trained once at the
full budget, and those measured values choose the finalists (``finalists``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from depthlab.advise.config import MIN_RUNG_STEPS, AdviseConfig, Budget
from depthlab.advise.curves import Prediction
from depthlab.errors import DepthlabError

EVAL_OVERHEAD = 1.25  # a time budget also pays for the validation reads of the learning curves


@dataclass(frozen=True)
class Plan:
    """Steps per run at full budget, the rungs' steps, and the worst-case cost of the whole advice."""

    full_steps: int
    rungs: list[int]
    cost: int

    @property
    def curve_every(self) -> int:
        """Evaluate the validation accuracy often enough for about eight points in the first rung."""
        return max(1, (self.rungs[0] if self.rungs else self.full_steps) // 8)


def rung_keep(alive: int, config: AdviseConfig) -> int:
    """How many depths a rung may keep: ``1/eta`` of them (at least the finalists), plus one."""
    return max(config.finalists, math.ceil(alive / config.eta)) + 1


def worst_case_cost(candidates: int, config: AdviseConfig, full_steps: int) -> int:
    """Training steps of the halving's rungs, one full-budget run of each depth the last rung keeps (the
    finalists' first seed among them), and the finalists' other seeds."""
    rungs = rung_steps(candidates, config.finalists, config.eta, full_steps)
    alive, total = candidates, 0
    for steps in rungs:
        total += alive * steps
        alive = min(alive, rung_keep(alive, config))
    finalists = min(alive, config.finalists)
    return total + alive * full_steps + finalists * (config.seeds - 1) * full_steps


def make_plan(
    candidates: int,
    config: AdviseConfig,
    budget_steps: float | None,
    spent: int,
    seconds_per_step: float = 0.0,
) -> Plan:
    """The largest full budget (at most ``config.steps``) whose plan fits in what is left of ``budget_steps``
    after the ``spent`` probe steps (``seconds_per_step`` set: the budget was a time, and errors say so)."""

    def plan_for(steps: int) -> Plan:
        rungs = rung_steps(candidates, config.finalists, config.eta, steps)
        return Plan(steps, rungs, worst_case_cost(candidates, config, steps))

    best = plan_for(config.steps)
    if budget_steps is None or spent + best.cost <= budget_steps:
        return best
    smallest = _smallest(candidates, config)
    low, high = smallest, config.steps  # cost grows with the full budget: bisect on it
    need = plan_for(low).cost
    if spent + need > budget_steps:
        smallest = (
            f"the smallest plan ({candidates} depths, first rung of {MIN_RUNG_STEPS} steps, "
            f"{config.seeds} seeds per finalist) needs {need} more steps"
        )
        if seconds_per_step:
            seconds = math.ceil(need * EVAL_OVERHEAD * seconds_per_step)
            raise DepthlabError(
                f"time budget too small: {smallest}, about {seconds} s at the probed step time"
            )
        raise DepthlabError(
            f"budget of {budget_steps:g} steps is too small: the probes took {spent} steps and {smallest}; "
            f"give at least --budget {spent + need}"
        )
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if spent + plan_for(mid).cost <= budget_steps else (low, mid - 1)
    return plan_for(low)


def _smallest(candidates: int, config: AdviseConfig) -> int:
    rungs = len(rung_steps(candidates, config.finalists, config.eta, config.steps))
    return min(config.steps, MIN_RUNG_STEPS * config.eta**rungs)


def check_probe_budget(budget: Budget | None, candidates: int, probe_steps: int) -> None:
    """A step budget smaller than the probes themselves is refused before anything runs."""
    needed = candidates * probe_steps
    if budget is not None and budget.unit == "steps" and budget.amount < needed:
        raise DepthlabError(
            f"budget of {budget.amount:g} steps is too small for even the probes: {candidates} depths x "
            f"{probe_steps} probe steps = {needed} steps"
        )


def steps_from_seconds(budget: Budget, seconds_per_step: float, spent_seconds: float) -> float:
    """A time budget in training steps at the measured step time (evaluations add about a quarter)."""
    left = budget.amount - spent_seconds
    if left <= 0:
        raise DepthlabError(
            f"budget of {budget.describe()} is too small for even the probes: they took {spent_seconds:.1f} s"
        )
    return left / (EVAL_OVERHEAD * seconds_per_step)


def grid_steps(depths: int, config: AdviseConfig, full_steps: int) -> int:
    """What the exhaustive grid of the same depths x seeds x full budget costs."""
    return depths * config.seeds * full_steps


# --- successive halving over depth ------------------------------------------------------------------------


def rung_steps(candidates: int, finalists: int, eta: int, full_steps: int) -> list[int]:
    """The training steps of each rung: ``full / eta^K, ..., full / eta`` with ``K`` rungs enough to cut
    ``candidates`` down to ``finalists`` (none when there are no more candidates than finalists)."""
    if eta < 2:
        raise DepthlabError(f"eta={eta}: must be >= 2")
    if candidates <= finalists:
        return []
    rungs = math.ceil(math.log(candidates / finalists, eta))
    return [max(1, full_steps // eta ** (rungs - k)) for k in range(rungs)]


def ranked(predictions: Mapping[int, Prediction]) -> list[int]:
    """Depths by predicted accuracy, best first (shallower first on ties)."""
    return sorted(predictions, key=lambda d: (-_mean(predictions[d]), d))


def contenders(predictions: Mapping[int, Prediction]) -> list[int]:
    """The depths the evidence cannot rule out: interval top at least the best interval bottom."""
    floor = max(p.low for p in predictions.values())
    return sorted(d for d, p in predictions.items() if p.high >= floor)


def survivors(predictions: Mapping[int, Prediction], keep: int) -> list[int]:
    """The contenders; when more than ``keep``, the ``favoured`` ones and then those with the highest interval
    tops (shallower first on ties): a depth that may still be the best is not cut for a low point
    prediction, nor the likeliest best and its likeliest shallower tie for a narrow interval."""
    alive = contenders(predictions)
    if len(alive) <= keep:
        return alive
    first = favoured(predictions)[:keep]
    by_top = [d for d in sorted(alive, key=lambda d: (-predictions[d].high, d)) if d not in first]
    return sorted(first + by_top[: keep - len(first)])


def favoured(predictions: Mapping[int, Prediction]) -> list[int]:
    """What a full rung keeps first: the predicted best contender, then the shallowest shallower contender
    whose interval reaches the best's prediction, a likely tie that the one-SE rule would choose (on Auto
    MPG depth 2, 2.95 [2.90, 3.00] RMSE, was cut for depth 3's 2.92 and wider intervals; 3 ended at 3.25)."""
    alive = contenders(predictions)
    leader = ranked({d: predictions[d] for d in alive})[0]
    ties = [d for d in alive if d < leader and predictions[d].high >= _mean(predictions[leader])]
    return [leader, *ties[:1]]


def finalists(predictions: Mapping[int, Prediction], count: int) -> list[int]:
    """The depths trained to a plateau with several seeds, chosen for the one-SE rule: the predicted best,
    then the shallower depths whose interval reaches the best's prediction (they may tie it, and the rule
    prefers them), most likely ties first, then the next best."""
    order = ranked(predictions)
    best = order[0]
    leader = _mean(predictions[best])
    close = [d for d in order[1:] if d < best and predictions[d].high >= leader]  # by predicted mean
    chosen = [best, *close[: count - 1]]
    chosen += [d for d in order if d not in chosen][: count - len(chosen)]
    return sorted(chosen)


def _mean(prediction: Prediction) -> float:
    return prediction.mean if math.isfinite(prediction.mean) else -math.inf


def cut_reason(
    predictions: Mapping[int, Prediction], kept: list[int], depth: int, finals: bool = False
) -> dict:
    """Why ``depth`` was cut, in the numbers of the moment: its prediction (or its one full-budget seed,
    ``finals``) and the value it fell short of."""
    mine = predictions[depth]
    floor_depth = max(predictions, key=lambda d: predictions[d].low)
    reason = {"prediction": mine.to_dict(), "kept": sorted(kept)}
    if finals:
        cutoff = min(kept, key=lambda d: _mean(predictions[d]))
        return reason | {
            "rule": "not a finalist",
            "against": {"depth": cutoff, "mean": predictions[cutoff].mean},
        }
    if mine.high < predictions[floor_depth].low:
        return reason | {
            "rule": "ruled out",
            "against": {"depth": floor_depth, "low": predictions[floor_depth].low},
        }
    by_top = [d for d in kept if d not in favoured(predictions)] or kept
    cutoff = min(by_top, key=lambda d: (predictions[d].high, -d))
    return reason | {"rule": "rung full", "against": {"depth": cutoff, "high": predictions[cutoff].high}}
