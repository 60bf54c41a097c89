"""Successive halving over depth, decided by extrapolated learning curves instead of current accuracy.

Successive halving (Jamieson & Talwalkar 2016, AISTATS, arXiv 1502.07943; Li et al. 2018, Hyperband, JMLR,
arXiv 1603.06560) trains every candidate briefly, keeps the best ``1/eta``, multiplies the budget by ``eta``
and repeats. Ranking by the accuracy reached *so far* assumes learning curves do not cross, which penalizes
deeper nets that start slower (ASHA in Ray Tune keeps the top quarter by current value). Here each rung
judges depths by the 95% interval of the accuracy their curve is *predicted* to reach at the full budget
(``curves.extrapolate``): a depth is ruled out only when its interval's upper end is below the
best lower end of any depth (what the evidence cannot rule out is kept, as in racing methods: Maron & Moore
1994, Hoeffding races), and when more depths remain than the rung may keep, the ones kept are those with the
highest upper end (optimism in the face of uncertainty: Auer et al. 2002, UCB), since the depth a wrong
point prediction would cut most unfairly is the one whose curve is least settled. The last rung's survivors
are trained once at the full budget, and those measured values choose the finalists (``finalists``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from depthlab.advise.curves import Prediction
from depthlab.errors import DepthlabError


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
    """The contenders; when more than ``keep``, the ``keep`` with the highest interval tops (shallower first
    on ties): a depth that may still be the best is not cut for a low point prediction."""
    alive = contenders(predictions)
    if len(alive) <= keep:
        return alive
    return sorted(sorted(alive, key=lambda d: (-predictions[d].high, d))[:keep])


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
