"""Learning-curve extrapolation and successive halving on synthetic curves (the truth is known)."""

import math

import numpy as np
import pytest

from depthlab.advise import plan
from depthlab.advise.curves import Prediction, exponential, extrapolate, power_law

STEPS = np.arange(25, 301, 25)  # a first rung of 300 steps, evaluated every 25
TARGET = 3000


def noisy(values, seed, sd=0.004):
    return values + np.random.default_rng(seed).normal(0, sd, len(values))


@pytest.mark.parametrize(
    "family, params",
    [(exponential, (0.9, 0.6, 400.0)), (exponential, (0.8, 0.3, 50.0)), (power_law, (0.92, 0.5, 0.4))],
)
def test_the_interval_covers_the_true_value_at_the_target(family, params):
    truth = float(family(TARGET, *params))
    covered = 0
    for seed in range(20):
        p = extrapolate(STEPS, noisy(family(STEPS, *params), seed), TARGET)
        covered += p.low <= truth <= p.high
    assert covered >= 17  # a 95% interval misses at most a few of 20 curves


def test_noise_free_saturating_curve_is_extrapolated_closely():
    p = extrapolate(STEPS, exponential(STEPS, 0.9, 0.6, 400.0), TARGET)
    assert p.mean == pytest.approx(float(exponential(TARGET, 0.9, 0.6, 400.0)), abs=0.01)
    assert p.family == "exponential"


def test_short_or_flat_curves_fall_back_to_the_last_value_with_a_wide_interval():
    flat = extrapolate(STEPS, np.full(len(STEPS), 0.1), TARGET)
    assert flat.mean == pytest.approx(0.1) and flat.high - flat.low >= 0.1
    short = extrapolate([10, 20], [0.3, 0.4], TARGET)
    assert short.mean == pytest.approx(0.4) and short.family == "last value"


def test_widening_by_seed_spread_adds_in_quadrature():
    p = Prediction(0.8, 0.78, 0.82, TARGET, "exponential")
    wide = p.widened(0.01)
    assert wide.high - wide.mean == pytest.approx(math.hypot(0.02, 1.959964 * 0.01), rel=1e-4)
    t4 = p.widened(0.01, dof=4)  # an sd estimated from 4 degrees of freedom: Student's t(4) 97.5% = 2.776
    assert t4.mean - t4.low == pytest.approx(math.hypot(0.02, 2.776445 * 0.01), rel=1e-4)


def test_the_pooled_seed_spread_is_at_least_one_validation_example():
    from depthlab.advise.advice import Candidate
    from depthlab.advise.recommend import pooled_seed_sd

    def finalist(values):
        return Candidate(3, runs=[{"score": v, "status": "ok"} for v in values])

    same = [finalist([0.97, 0.97, 0.97]), finalist([0.96, 0.96, 0.96])]
    assert pooled_seed_sd(same, resolution=1 / 137) == (pytest.approx(1 / 137), 4)
    spread = [finalist([0.5, 0.6, 0.7])]  # variance 0.01 on 2 degrees of freedom
    assert pooled_seed_sd(spread, resolution=1 / 137) == (pytest.approx(0.1), 2)


def crossing_pair() -> dict[int, Prediction]:
    """Depth 2 learns fast and saturates at 80%; depth 6 starts slower and ends at 90%: at 300 steps the
    shallow net is ahead (about 79% vs 62%)."""
    fast = noisy(exponential(STEPS, 0.8, 0.3, 50.0), 1)
    slow = noisy(exponential(STEPS, 0.9, 0.6, 400.0), 2)
    assert fast[-1] > slow[-1] + 0.1  # the premise: by current accuracy the slow starter would be cut
    return {2: extrapolate(STEPS, fast, TARGET), 6: extrapolate(STEPS, slow, TARGET)}


def test_a_crossing_pair_keeps_the_slow_starter_that_ends_higher():
    predictions = crossing_pair()
    assert plan.ranked(predictions)[0] == 6
    assert 6 in plan.survivors(predictions, keep=1)
    assert 6 in plan.finalists(predictions, count=1)


def test_survivors_are_the_depths_not_ruled_out_capped_by_the_highest_interval_tops():
    p = {
        d: Prediction(m, m - 0.02, m + 0.02, TARGET, "x") for d, m in {1: 0.5, 2: 0.7, 3: 0.8, 4: 0.6}.items()
    }
    assert plan.survivors(p, keep=2) == [3]  # every other top (<= 0.72) is below 3's bottom (0.78)
    p[1] = Prediction(0.5, 0.2, 0.85, TARGET, "x")  # uncertain: could still be the best
    p[2] = Prediction(0.7, 0.6, 0.79, TARGET, "x")  # reaches 3's bottom: not ruled out either
    assert plan.contenders(p) == [1, 2, 3]
    assert plan.survivors(p, keep=2) == [1, 3]  # the cap keeps the highest tops (0.85, 0.82), not 2 (0.79)


def test_a_full_rung_keeps_the_predicted_best_even_when_wider_intervals_reach_higher():
    # lower RMSE is better: predictions are in "higher is better" form, as the advisor keeps them
    p = {
        2: Prediction(-2.95, -3.00, -2.90, TARGET, "x"),  # the best point prediction, a narrow interval
        3: Prediction(-3.05, -3.30, -2.80, TARGET, "x"),
        4: Prediction(-3.10, -3.40, -2.75, TARGET, "x"),
        5: Prediction(-3.08, -3.35, -2.78, TARGET, "x"),
    }
    assert plan.contenders(p) == [2, 3, 4, 5]
    assert plan.survivors(p, keep=2) == [2, 4]  # the leader, then the highest top
    assert plan.cut_reason(p, [2, 4], 5)["against"]["depth"] == 4  # cut by 4's top, not the leader's


def test_a_full_rung_keeps_a_shallower_likely_tie_of_the_predicted_best():
    # Auto MPG's 333-step rung (RMSE / 7.6, in "higher is better" form): 3 was predicted a hair better than 2
    p = {
        2: Prediction(-0.3885, -0.4297, -0.3474, TARGET, "x"),
        3: Prediction(-0.3854, -0.4292, -0.3417, TARGET, "x"),
        4: Prediction(-0.4157, -0.4657, -0.3500, TARGET, "x"),
        5: Prediction(-0.4387, -0.4793, -0.3982, TARGET, "x"),
        6: Prediction(-0.4044, -0.4582, -0.3507, TARGET, "x"),
    }
    assert plan.favoured(p) == [3, 2]
    assert plan.survivors(p, keep=3) == [2, 3, 4]  # was [3, 4, 6] by interval tops alone
    assert plan.cut_reason(p, [2, 3, 4], 6)["against"]["depth"] == 4


def two_phase(t):
    """A deep net's curve: a first rise to about 50%, a pause, a second rise after 400 steps to 74.5% at 1000
    (the shape of MNIST-1D's deeper MLPs)."""
    return 0.25 + 0.25 * (1 - np.exp(-t / 120)) + 0.25 / (1 + np.exp(-(t - 600) / 100))


def test_a_two_phase_curve_is_not_ruled_out_by_a_shallow_net_that_has_saturated():
    rung = np.arange(41, 334, 41)  # the 333-step rung of a 1000-step budget, read every 41 steps
    kept = ahead = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        deep = extrapolate(rung, two_phase(rung) + rng.normal(0, 0.008, len(rung)), 1000)
        shallow = extrapolate(
            rung, exponential(rung, 0.6, 0.35, 80.0) + rng.normal(0, 0.008, len(rung)), 1000
        )
        ahead += plan.ranked({2: shallow, 5: deep})[0] == 2
        kept += plan.contenders({2: shallow, 5: deep}) == [2, 5]  # 5's top reaches 2's bottom
    assert (
        ahead >= 15
    )  # the premise: by point prediction the shallow net (60%) would win and 5 (74.5%) be cut
    assert kept == 20


def test_a_depth_far_below_the_others_is_ruled_out():
    rung = np.arange(41, 334, 41)
    low = extrapolate(rung, noisy(exponential(rung, 0.31, 0.15, 100.0), 3), 1000)  # depth 1 on MNIST-1D
    high = extrapolate(rung, noisy(exponential(rung, 0.6, 0.35, 80.0), 4), 1000)
    assert plan.survivors({1: low, 2: high}, keep=2) == [2]


def test_finalists_favour_shallow_depths_that_may_tie_the_best():
    p = {
        1: Prediction(0.60, 0.55, 0.65, TARGET, "x"),
        2: Prediction(0.78, 0.74, 0.83, TARGET, "x"),  # its interval reaches the best's prediction
        4: Prediction(0.80, 0.78, 0.82, TARGET, "x"),
        6: Prediction(0.79, 0.77, 0.81, TARGET, "x"),
    }
    assert plan.finalists(p, count=2) == [2, 4]
    assert plan.finalists(p, count=3) == [2, 4, 6]
    p[1] = Prediction(0.60, 0.40, 0.90, TARGET, "x")  # shallower and may tie, but less likely than depth 2
    assert plan.finalists(p, count=2) == [2, 4]
    assert plan.finalists(p, count=3) == [1, 2, 4]


def test_rung_steps_follow_the_halving_schedule():
    assert plan.rung_steps(9, 1, 3, 2700) == [300, 900]  # 9 -> 3 -> 1
    assert plan.rung_steps(10, 1, 3, 2700) == [100, 300, 900]
    assert plan.rung_steps(6, 2, 3, 900) == [300]
    assert plan.rung_steps(2, 2, 3, 900) == []


def test_the_worst_case_plan_counts_the_rung_the_full_budget_seeds_and_the_finalists_other_seeds():
    from depthlab.advise.config import AdviseConfig
    from depthlab.advise.plan import worst_case_cost

    config = AdviseConfig(data="spirals", depths=tuple(range(1, 7)), steps=1000, seeds=3, finalists=2, eta=3)
    # 6 x 333 at the rung; it keeps max(2, ceil(6/3)) + 1 = 3, each once to 1000; 2 finalists x 2 more seeds
    assert worst_case_cost(6, config, 1000) == 6 * 333 + 3 * 1000 + 2 * 2 * 1000
