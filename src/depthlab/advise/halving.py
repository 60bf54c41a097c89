"""Successive halving over depth, decided by extrapolated learning curves instead of current accuracy.

Successive halving (Jamieson & Talwalkar 2016, AISTATS, arXiv 1502.07943; Li et al. 2018, Hyperband, JMLR,
arXiv 1603.06560) trains every candidate briefly, keeps the best ``1/eta``, multiplies the budget by ``eta``
and repeats. Ranking by the accuracy reached *so far* assumes learning curves do not cross, which penalizes
deeper nets that start slower (ASHA in Ray Tune keeps the top quarter by current value). Here each rung ranks
depths by the accuracy their curve is *predicted* to reach at the full budget (``curves.extrapolate``), and
one more depth survives as a wildcard when its interval's upper end still reaches the leader's prediction: the
depth a wrong point prediction would have cut the most unfairly.
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


def survivors(predictions: Mapping[int, Prediction], keep: int) -> list[int]:
    """The ``keep`` best by prediction, plus one wildcard: the pruned depth with the highest interval top, if
    that top reaches the leader's predicted mean."""
    order = ranked(predictions)
    kept, rest = order[:keep], order[keep:]
    if rest:
        leader = _mean(predictions[order[0]])
        wildcard = max(rest, key=lambda d: (predictions[d].high, -d))
        if predictions[wildcard].high >= leader:
            kept.append(wildcard)
    return sorted(kept)


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
