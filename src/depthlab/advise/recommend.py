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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from depthlab import stats
from depthlab.advise.baselines import VERDICTS, Baseline, as_good
from depthlab.advise.config import ACCURACY, AdviseConfig, Metric
from depthlab.advise.curves import Prediction
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


@dataclass
class Candidate:
    """One depth: its latency, probe, the last prediction of its curve, and (finalists) its seeds' runs."""

    depth: int
    status: str = "pruned"
    latency_ms: float = math.nan
    latency_form: str = "train"
    probe: dict[str, Any] | None = None
    prediction: Prediction | None = None
    rung_steps: int | None = None
    pruned_at_step: int | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    measured: stats.Interval | None = None
    predicted: Prediction | None = None  # the prediction widened by the seed spread
    variant: str = ""  # the remedy the probes chose ("": as the user gave it)
    variant_options: dict[str, Any] = field(default_factory=dict)
    variant_why: str = ""

    def scores(self, key: str = "score") -> list[float]:
        return [r[key] for r in self.runs if r.get(key) is not None and r["status"] == "ok"]

    def accuracy(self) -> tuple[float, float, float, str] | None:
        """(mean, low, high, source) of the validation score: measured where trained, else predicted."""
        if self.measured is not None:
            return self.measured.estimate, self.measured.low, self.measured.high, "measured"
        if self.predicted is not None:
            return self.predicted.mean, self.predicted.low, self.predicted.high, "predicted"
        return None

    def to_dict(self, metric: Metric = ACCURACY) -> dict[str, Any]:
        """The candidate in the metric's own units (``accuracy``, or ``rmse`` and ``r2`` for a regression)."""
        converged = [r.get("converged") for r in self.runs]
        test = [metric.shown(s) for s in self.scores("test_score")]
        shown = None if (acc := self.accuracy()) is None else (*metric.shown_interval(*acc[:3]), acc[3])
        per_seed = "val_acc_per_seed" if metric is ACCURACY else "val_rmse_per_seed"
        return {
            "depth": self.depth,
            "status": self.status,
            metric.name: None
            if shown is None
            else dict(zip(("mean", "low", "high", "source"), shown, strict=True)),
            **({"r2": self.mean_r2()} if metric is not ACCURACY else {}),
            "predicted": None if self.predicted is None else self.predicted.to_dict(),
            "measured": None if self.measured is None else self.measured.to_dict(),
            f"test_{metric.name}": float(np.mean(test)) if test else None,
            "latency_ms": self.latency_ms,
            "latency_form": self.latency_form,
            "pruned_at_step": self.pruned_at_step,
            "seeds": len(self.runs),
            "converged": [sum(bool(c) for c in converged), len(converged)],
            per_seed: [metric.shown(s) for s in self.scores()],
            "probe": self.probe,
            "variant": self.variant_dict(),
        }

    def mean_r2(self) -> float | None:
        """The validation R² over the seeds (a regression's runs), None without one."""
        r2 = [r["val_r2"] for r in self.runs if r.get("val_r2") is not None and r["status"] == "ok"]
        return float(np.mean(r2)) if r2 else None

    def variant_dict(self) -> dict[str, Any]:
        """Which variant the depth got (``as given``, or the remedy its probe chose), and why."""
        return {"name": self.variant or "as given", "options": self.variant_options, "why": self.variant_why}


@dataclass
class Advice:
    """The answer and everything behind it; ``to_dict`` is the advice.json contract."""

    config: AdviseConfig
    candidates: list[Candidate]
    plan: Plan
    steps_used: int
    steps_grid: int
    resumed: int
    one_se: stats.OneSE | None
    clause: stats.Clause | None
    band: tuple[int, int] | None
    metric: Metric = ACCURACY
    baselines: list[Baseline] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # what was done to the data: lines and Dataset.meta

    @property
    def baseline_verdict(self) -> str | None:
        """The first line of the advice when a baseline is as good as the recommended depth, else None."""
        chosen = self.recommended
        if chosen is None or chosen.measured is None:
            return None
        good = [b for b in self.baselines if as_good(b, chosen.measured.low)]
        return VERDICTS[good[0].name] if good else None

    @property
    def recommended(self) -> Candidate | None:
        return next((c for c in self.candidates if c.status == "chosen"), None)

    def to_dict(self) -> dict[str, Any]:
        chosen, m = self.recommended, self.metric
        picked = chosen.to_dict(m) if chosen is not None else {}
        return {
            "recommended_depth": chosen.depth if chosen else None,
            "interval": None
            if self.band is None
            else {
                "low": self.band[0],
                "high": self.band[1],
                "rule": "finalist depths within one SE of the best",
            },
            "metric": m.name,
            m.name: picked.get(m.name),
            f"test_{m.name}": picked.get(f"test_{m.name}"),
            **({"r2": picked.get("r2")} if m is not ACCURACY else {}),
            "one_se": None if self.one_se is None else self.one_se.to_dict(),
            "clause": None if self.clause is None else self.clause.to_dict(),
            "candidates": [cand.to_dict(m) for cand in self.candidates],
            "steps_used": self.steps_used,
            "steps_grid": self.steps_grid,
            "steps_fraction": self.steps_used / self.steps_grid if self.steps_grid else None,
            "steps_per_run": self.plan.full_steps,
            "rungs": self.plan.rungs,
            "resumed_pieces": self.resumed,
            "baselines": [b.to_dict(m) for b in self.baselines],
            "baseline_verdict": self.baseline_verdict,
            "data": self.data,
            "question": self.question(),
        }

    def question(self) -> dict[str, Any]:
        """Everything the advice was asked."""
        c = self.config
        return {
            "data": c.data,
            "model": c.model,
            "depths": list(c.depths),
            "latency_ms": c.latency_ms,
            "batch": c.batch,
            "budget": c.budget,
            "seeds": c.seeds,
            "model_options": c.model_options,
            "data_options": c.data_options,
            "train": c.train,
        }


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
