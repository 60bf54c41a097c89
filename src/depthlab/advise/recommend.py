"""The recommendation: the score against depth with intervals, and the one-SE choice within the latency
budget.

The score is the validation accuracy, or minus the validation RMSE for a numeric target (higher is better
either way; ``config.Metric``), with the coefficient of determination R² beside the RMSE. Measured depths (the
finalists) get the mean validation score over seeds with its Student-t interval;
pruned depths get their extrapolated prediction (or the one full-budget seed they were cut on), its interval
widened in quadrature by the seed-to-seed spread pooled over the finalists, at the Student-t quantile of its
degrees of freedom and at least one validation example's worth (a prediction from one seed stands for the
mean over seeds only that loosely). The
recommended depth is the shallowest finalist whose mean is within one standard error of the best finalist's
(Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, 7.10), ``depthlab.stats.one_se_rule``;
all finalists meet the latency budget, since slower depths were never trained. Its interval is the range of
finalist depths inside that one-SE band: any of them is as good on this evidence; the shallowest is cheapest.
Beside it, the paired per-seed comparison best minus recommended, judged by ``depthlab.stats``.
"""

from __future__ import annotations

import math

import numpy as np

from depthlab import stats
from depthlab.advise.advice import Advice, Candidate
from depthlab.advise.baselines import Baseline
from depthlab.advise.config import ACCURACY, AdviseConfig, Metric
from depthlab.advise.plan import Plan


def best_vs_chosen(metric: Metric) -> stats.Comparison:
    """Best minus recommended depth, per seed, in score units; less than ``metric.min_effect`` (a point of
    accuracy, a hundredth of the target's std) is not worth the extra layers."""
    what = "validation accuracy" if metric is ACCURACY else "minus the validation RMSE (standardized target)"
    return stats.Comparison(
        name="best depth vs recommended",
        statistic=f"{what}, best depth minus recommended depth, per seed",
        direction=1,
        min_effect=metric.min_effect,
    )


def pooled_seed_sd(candidates: list[Candidate], resolution: float = 0.0) -> tuple[float, int]:
    """The seed-to-seed standard deviation of the validation score pooled over the finalists, and its degrees
    of freedom. At least ``resolution`` (one validation example's share): seeds that all land on the same
    count of correct examples say the spread is below one example, not that it is zero."""
    groups = [np.asarray(c.scores()) for c in candidates if len(c.scores()) >= 2]
    dof = sum(len(g) - 1 for g in groups)
    if not dof:
        return resolution, 0
    return max(resolution, math.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof)), dof


def recommend(
    config: AdviseConfig,
    candidates: list[Candidate],
    plan: Plan,
    steps_used: int,
    steps_grid: int,
    resumed: int,
    metric: Metric = ACCURACY,
    resolution: float = 0.0,
    baselines: list[Baseline] | None = None,
) -> Advice:
    """Fill in intervals, apply the one-SE rule over the finalists and mark the chosen depth; ``resolution``
    is the accuracy one validation example is worth."""
    finalists = [c for c in candidates if c.status == "finalist"]
    sd, dof = pooled_seed_sd(finalists, resolution)
    for c in candidates:
        if c.prediction is not None:
            c.predicted = c.prediction.widened(sd, dof)
        if c.runs and c.status != "pruned":  # a depth cut after one full-budget seed keeps it as a prediction
            c.measured = stats.paired_t(c.scores())
    one_se, clause, band = _choose(finalists, metric)
    extra = (metric, baselines or [])
    return Advice(config, candidates, plan, steps_used, steps_grid, resumed, one_se, clause, band, *extra)


def _choose(finalists: list[Candidate], metric: Metric):
    """The one-SE choice (marked ``chosen``), the best-vs-chosen comparison and the band of depths inside."""
    one_se = stats.one_se_rule({c.depth: c.scores() for c in finalists})
    if one_se is None:
        return None, None, None
    by_depth = {c.depth: c for c in finalists}
    by_depth[one_se.chosen].status = "chosen"
    inside = [d for d, m in one_se.means.items() if m >= one_se.best_mean - one_se.best_se]
    best, chosen = by_depth[one_se.best], by_depth[one_se.chosen]
    clause = None
    if best is not chosen:
        per_seed = {r["seed"]: r["score"] for r in best.runs if r["status"] == "ok"}
        clause = best_vs_chosen(metric).judge_paired(
            per_seed, {r["seed"]: r["score"] for r in chosen.runs if r["status"] == "ok"}
        )
    return one_se, clause, (min(inside), max(inside))
