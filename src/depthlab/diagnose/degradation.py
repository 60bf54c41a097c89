"""Degradation, judged as He et al. 2016 (arXiv 1512.03385) define it: with more depth the *training* loss at
convergence is higher. A deeper net that is only behind after a fixed short run is slower to train, not
degraded (docs/statistics.md, section 4), so both nets train to a plateau of their training loss over several
seeds, each seed shared by the two depths (same data order, init seeded the same way), and the verdict is the
paired interval of the per-seed difference of final training loss (``depthlab.stats``).

- held (the deeper net's loss is higher by more than ``MIN_LOSS_GAP`` on the whole interval): PROBLEM;
- did not hold: ok; inconclusive: a note saying what would settle it;
- a deeper run that hit its budget before its plateau: no verdict; when it is behind, the note says it is
  slower to train at that many steps.
- a shallower run still improving at its budget (a loss falling toward 0 never plateaus in relative terms):
  its loss there bounds its plateau from above, so the gap can only be larger and "held" stands; "did not
  hold" cannot be concluded and becomes a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from depthlab import stats
from depthlab.diagnose import remedies
from depthlab.diagnose.verdict import NOTE, OK, PROBLEM, Verdict

CHECK = "degradation"
# 0.05 nats of cross-entropy: the gap between predicting the right class with p = 0.95 and p = 0.90 on
# average; smaller gaps at convergence are not the failure to fit that He et al. describe.
MIN_LOSS_GAP = 0.05
COMPARISON = stats.Comparison(
    "degradation", "final training loss, deeper minus shallower", 1, MIN_LOSS_GAP, "t", "", 1.0
)


@dataclass(frozen=True)
class TwinPlan:
    """How the two depths are trained: the step budget, the plateau rule and the seeds."""

    steps: int = 4000
    plateau_window: int = 400
    plateau_tol: float = 0.01
    seeds: int = 3


@dataclass
class TwinRuns:
    """Final training loss and convergence per seed for each depth."""

    depth: int
    twin_depth: int
    loss: dict[int, dict[int, float]] = field(default_factory=dict)  # depth -> seed -> final train loss
    converged: dict[int, dict[int, bool]] = field(default_factory=dict)
    steps: dict[int, dict[int, int]] = field(default_factory=dict)
    diverged: bool = False

    def add(self, depth: int, seed: int, history) -> None:
        self.loss.setdefault(depth, {})[seed] = history.final.get("train_loss", float("nan"))
        self.converged.setdefault(depth, {})[seed] = bool(history.converged)
        self.steps.setdefault(depth, {})[seed] = history.steps
        self.diverged |= history.status == "diverged"

    def all_converged(self, depth: int | None = None) -> bool:
        return all(all(c.values()) for d, c in self.converged.items() if depth in (None, d))

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "twin_depth": self.twin_depth,
            "train_loss": {str(d): v for d, v in self.loss.items()},
            "converged": {str(d): v for d, v in self.converged.items()},
            "steps": {str(d): v for d, v in self.steps.items()},
        }


def train_twins(
    build: Callable[[int], nn.Module], train: Callable[[nn.Module, int], Any], depth: int, plan: TwinPlan
) -> TwinRuns:
    """Train ``depth`` and ``depth // 2`` over ``plan.seeds`` paired seeds; stop after a seed whose deeper run
    hit its budget before a plateau (more seeds would not make the comparison fair)."""
    runs = TwinRuns(depth, depth // 2)
    for seed in range(plan.seeds):
        for d in (depth, depth // 2):
            torch.manual_seed(seed)  # the init of both depths is seeded like their data order
            runs.add(d, seed, train(build(d), seed))
        if runs.diverged or not runs.all_converged(depth):
            break
    return runs


def verdict(runs: TwinRuns, plan: TwinPlan, config: Mapping[str, Any] | None) -> Verdict:
    """The degradation verdict from the twin runs (see the module docstring)."""
    deep, shallow = runs.depth, runs.twin_depth
    if runs.diverged:
        return Verdict(CHECK, NOTE, f"not judged: a run of depth {deep} or {shallow} diverged")
    if not runs.all_converged(deep):
        return _unconverged(runs, plan)
    clause = COMPARISON.judge_paired(runs.loss[deep], runs.loss[shallow])
    iv = clause.interval
    still = sum(not c for c in runs.converged[shallow].values())
    reached = (
        f"all {2 * iv.n} runs reached a plateau"
        if not still
        else f"depth {deep} reached a plateau in all {iv.n} runs, depth {shallow} was still improving at "
        f"{plan.steps} steps in {still}"
    )
    text = (
        f"at convergence ({reached}), final training loss of depth {deep} minus depth {shallow}: "
        f"{iv.estimate:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}] (n={iv.n} seeds, paired t; degradation when "
        f"the interval lies above +{MIN_LOSS_GAP:g})"
    )
    if clause.outcome == stats.HELD:
        return Verdict(CHECK, PROBLEM, text, remedies.degradation(config, shallow))
    if still:
        return Verdict(CHECK, NOTE, f"not judged: {text}; pass a larger budget")
    if clause.outcome == stats.NOT_HELD:
        return Verdict(CHECK, OK, text)
    return Verdict(
        CHECK, NOTE, f"{text}: inconclusive, more seeds (seeds={max(5, 2 * plan.seeds)}) would settle it"
    )


def _unconverged(runs: TwinRuns, plan: TwinPlan) -> Verdict:
    deep, shallow = runs.depth, runs.twin_depth
    seed = max(runs.loss[shallow])  # the seed that stopped the protocol
    d_loss, s_loss = runs.loss[deep][seed], runs.loss[shallow][seed]
    steps = runs.steps[deep][seed]
    reached = (
        f"depth {deep} did not reach a plateau within {plan.steps} steps (seed {seed}); degradation is "
        "judged at convergence: pass a larger budget"
    )
    losses = f"training loss {d_loss:.3f} at depth {deep} vs {s_loss:.3f} at depth {shallow}"
    if d_loss > s_loss:
        return Verdict(CHECK, NOTE, f"slower to train at {steps} steps: {losses}; {reached}")
    return Verdict(CHECK, NOTE, f"not judged: {losses}; {reached}")
