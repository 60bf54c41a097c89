"""The verdict statistics against oracles: hand formulas, scipy, published intervals and null simulations.

Published values: Newcombe 1998a (Stat. Med. 17:857, Wilson score interval for 81/263) and Newcombe 1998b
(Stat. Med. 17:873, Table II, hybrid score interval "method 10" for 56/70 - 48/80 and 9/10 - 3/10).
"""

import math

import numpy as np
import pytest
from scipy import stats as sps

from depthlab import stats
from depthlab.errors import DepthlabError

Z = 1.959963984540054  # the 97.5% normal quantile


def wilson_by_hand(k, n):
    center = (k + Z**2 / 2) / (n + Z**2)
    half = Z / (n + Z**2) * math.sqrt(k * (n - k) / n + Z**2 / 4)
    return center - half, center + half


# --- intervals ---


def test_paired_t_is_the_hand_formula_and_scipys_paired_test():
    a = np.array([0.91, 0.88, 0.93, 0.90, 0.87])
    b = np.array([0.85, 0.86, 0.88, 0.84, 0.86])
    d = a - b
    half = sps.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    iv = stats.paired_t(d)
    expected = (d.mean(), d.mean() - half, d.mean() + half, 5)
    assert (iv.estimate, iv.low, iv.high, iv.n) == pytest.approx(expected)
    ci = sps.ttest_rel(a, b).confidence_interval(0.95)
    assert (iv.low, iv.high) == pytest.approx((ci.low, ci.high))


def test_paired_t_with_too_few_seeds_has_no_interval_and_is_inconclusive():
    assert stats.paired_t([]).n == 0 and math.isnan(stats.paired_t([]).estimate)
    one = stats.paired_t([0.3])
    assert one.estimate == 0.3 and math.isnan(one.low) and math.isnan(one.high)
    assert stats.outcome(one, 1, 0.0) == stats.INCONCLUSIVE
    assert stats.paired_t([1.0, float("nan"), 3.0]).n == 2  # non-finite seeds are dropped, not averaged


def test_bca_matches_scipy_and_falls_back_to_t_when_degenerate():
    d = [0.02, 0.05, -0.01, 0.04, 0.03, 0.06]
    iv = stats.bca(d)
    ref = sps.bootstrap(
        (np.array(d),), np.mean, confidence_level=0.95, method="BCa", n_resamples=2000, random_state=0
    ).confidence_interval
    assert (iv.low, iv.high, iv.method) == pytest.approx((ref.low, ref.high, "BCa bootstrap"))
    assert iv.low < np.mean(d) < iv.high
    assert stats.bca([0.1, 0.1, 0.1]).method == "paired t"  # no spread: the jackknife is undefined
    assert stats.bca([0.1, 0.2]).method == "paired t"


def test_interval_method_is_checked():
    assert stats.interval([1.0, 2.0, 3.0], "t") == stats.paired_t([1.0, 2.0, 3.0])
    with pytest.raises(DepthlabError, match="'t', 'bca'"):
        stats.interval([1.0, 2.0], "percentile")


def test_wilson_matches_the_hand_formula_and_newcombes_published_value():
    iv = stats.wilson(81, 263)
    assert (round(iv.low, 4), round(iv.high, 4)) == (0.2553, 0.3662)
    for k, n in [(0, 10), (3, 7), (10, 10), (1, 5)]:
        assert (stats.wilson(k, n).low, stats.wilson(k, n).high) == pytest.approx(wilson_by_hand(k, n))
    assert stats.wilson(0, 10).low == pytest.approx(0.0, abs=1e-12)  # a score interval never leaves [0, 1]
    assert math.isnan(stats.wilson(0, 0).estimate)


@pytest.mark.parametrize(
    "k1, n1, k2, n2, low, high", [(56, 70, 48, 80, 0.0524, 0.3339), (9, 10, 3, 10, 0.1705, 0.8090)]
)
def test_newcombe_hybrid_interval_matches_the_published_table(k1, n1, k2, n2, low, high):
    iv = stats.rate_difference(k1, n1, k2, n2)
    assert iv.estimate == pytest.approx(k1 / n1 - k2 / n2)
    assert (round(iv.low, 4), round(iv.high, 4)) == (low, high)


def test_fisher_exact_is_the_hypergeometric_tail():
    # 5/5 stalled vs 0/5: the only table at least this extreme in its direction has probability 1 / C(10, 5)
    assert stats.fisher_p(5, 5, 0, 5, "greater") == pytest.approx(1 / math.comb(10, 5))
    assert stats.fisher_p(5, 5, 0, 5) == pytest.approx(2 / math.comb(10, 5))
    assert stats.fisher_p(0, 5, 5, 5, "greater") == pytest.approx(1.0)
    # 3/5 vs 1/5: P(X >= 3) for X ~ Hypergeom(N=10, K=4 stalled, n=5 drawn)
    tail = sum(math.comb(4, x) * math.comb(6, 5 - x) for x in (3, 4)) / math.comb(10, 5)
    assert stats.fisher_p(3, 5, 1, 5, "greater") == pytest.approx(tail)


# --- outcomes ---


def iv(low, high):
    return stats.Interval((low + high) / 2, low, high, 5, "test")


@pytest.mark.parametrize(
    "low, high, direction, min_effect, expected",
    [
        (0.5, 2.0, 1, 0.0, stats.HELD),
        (0.5, 2.0, 1, 1.0, stats.INCONCLUSIVE),  # on the predicted side, but not all beyond the minimum
        (1.5, 2.0, 1, 1.0, stats.HELD),
        (-2.0, -0.5, 1, 0.0, stats.NOT_HELD),  # entirely on the other side
        (-0.5, 0.5, 1, 1.0, stats.NOT_HELD),  # entirely inside the minimum effect
        (-0.5, 0.5, 1, 0.0, stats.INCONCLUSIVE),
        (-2.0, -0.5, -1, 0.0, stats.HELD),  # a predicted decrease
        (0.5, 2.0, -1, 0.0, stats.NOT_HELD),
        (-1.0, 0.1, -1, 0.5, stats.INCONCLUSIVE),
    ],
)
def test_outcome_rule_by_hand(low, high, direction, min_effect, expected):
    assert stats.outcome(iv(low, high), direction, min_effect) == expected


def test_outcome_direction_is_checked():
    with pytest.raises(DepthlabError, match="direction"):
        stats.outcome(iv(0, 1), 0)


def simulate(effect, sd, n, draws=200, min_effect=0.0, method="t", seed=0):
    """Outcome counts of one comparison over ``draws`` simulated studies of ``n`` seeds each."""
    rng = np.random.default_rng(seed)
    comparison = stats.Comparison("sim", "a - b", 1, min_effect, method)
    outcomes = [comparison.judge(rng.normal(effect, sd, n)).outcome for _ in range(draws)]
    return {o: outcomes.count(o) / draws for o in stats.OUTCOMES}


@pytest.mark.parametrize("method", ["t", "bca"])
def test_null_simulation_absent_effect_is_rarely_held(method):
    rates = simulate(effect=0.0, sd=1.0, n=5, method=method)
    assert rates[stats.HELD] <= 0.10
    assert simulate(effect=0.0, sd=1.0, n=5, min_effect=0.5, method=method)[stats.HELD] <= 0.10


@pytest.mark.parametrize("method", ["t", "bca"])
def test_null_simulation_present_effect_is_held_and_reversed_did_not_hold(method):
    assert simulate(effect=3.0, sd=1.0, n=5, min_effect=0.5, method=method)[stats.HELD] >= 0.9
    assert simulate(effect=-3.0, sd=1.0, n=5, min_effect=0.5, method=method)[stats.NOT_HELD] >= 0.9


def test_null_simulation_an_effect_inside_the_minimum_did_not_hold():
    # a real but negligible effect (0.1) measured precisely, against a minimum effect of 1
    rates = simulate(effect=0.1, sd=0.2, n=10, min_effect=1.0)
    assert rates[stats.NOT_HELD] >= 0.9 and rates[stats.HELD] == 0


def test_paired_differences_pair_by_seed_and_skip_missing_or_non_finite():
    a = {0: 0.9, 1: 0.8, 2: 0.7, 3: float("nan")}
    b = {1: 0.5, 0: 0.6, 3: 0.4, 4: 0.1}
    assert stats.paired_differences(a, b) == pytest.approx([0.3, 0.3])


def test_pairing_removes_the_shared_seed_noise():
    # per-seed noise shared by both variants (sd 5) swamps an effect of 1 unpaired, not paired
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 5, 6)
    a = {s: 1.0 + shared[s] + rng.normal(0, 0.1) for s in range(6)}
    b = {s: shared[s] + rng.normal(0, 0.1) for s in range(6)}
    clause = stats.Comparison("paired", "a - b", 1, 0.5, scale=1, unit="").judge_paired(a, b)
    assert clause.outcome == stats.HELD
    unpaired = sps.ttest_ind(list(a.values()), list(b.values())).confidence_interval(0.95)
    assert unpaired.low < 0 < unpaired.high


def test_clause_sentence_rule_and_dict():
    comparison = stats.Comparison("deep beats shallow", "acc(32) - acc(4)", 1, 0.02)
    clause = comparison.judge([0.05, 0.06, 0.04, 0.05, 0.07])
    assert clause.outcome == stats.HELD
    assert clause.sentence().startswith("deep beats shallow: held, +5.4 [")
    assert comparison.rule() == "deep beats shallow: 95% interval of [acc(32) - acc(4)] entirely > 2 pts"
    down = stats.Comparison("loss falls", "loss(b) - loss(a)", -1, 0.0, scale=1, unit="")
    assert down.rule() == "loss falls: 95% interval of [loss(b) - loss(a)] entirely < 0"
    d = clause.to_dict()
    assert d["outcome"] == stats.HELD and d["n"] == 5 and d["low"] > 0.02


def test_combine_and_deciding_clause():
    c = stats.Comparison("c", "x")
    held, no, unsure = (stats.Clause(c, iv(1, 2), o) for o in stats.OUTCOMES)
    assert stats.combine([held, held]) == stats.HELD
    assert stats.combine([held, unsure]) == stats.INCONCLUSIVE
    assert stats.combine([unsure, no, held]) == stats.NOT_HELD
    assert stats.combine([]) == stats.INCONCLUSIVE
    assert stats.deciding([held, unsure, no]) is no and stats.deciding([held, unsure]) is unsure
    assert stats.deciding([held]) is None


# --- the one-SE rule ---


def test_one_se_rule_on_a_hand_example():
    per_depth = {
        1: [0.70, 0.72, 0.71],
        2: [0.84, 0.80, 0.82],  # mean 0.82
        4: [0.86, 0.82, 0.84],  # mean 0.84, within one SE of the best
        8: [0.87, 0.85, 0.86],  # the best: mean 0.86, SE 0.0058
    }
    se = np.std([0.87, 0.85, 0.86], ddof=1) / math.sqrt(3)  # 0.005774
    choice = stats.one_se_rule(per_depth)
    assert choice.best == 8 and choice.best_mean == pytest.approx(0.86)
    assert choice.best_se == pytest.approx(se)
    assert choice.chosen == 8  # 0.84 < 0.86 - 0.0058: depth 4 is outside one SE
    wider = {**per_depth, 8: [0.90, 0.82, 0.86]}  # same mean, SE 0.0231: depth 4 (0.84) is now within
    assert stats.one_se_rule(wider).chosen == 4
    assert stats.one_se_rule({1: [0.5], 2: [float("nan"), 0.6]}) is None  # no size with two finite scores


def test_a_clause_that_did_not_hold_says_why_from_its_numbers():
    # inconclusive: straddles the 2-point bound; half-width 2 pts at distance 1 pt: (2/1)^2 = 4x the seeds
    assert stats.reason(stats.Interval(0.01, -0.01, 0.03, 5, "t"), 1, 0.02, 100, " pts") == (
        "the interval straddles the minimum effect 2 pts; an effect of this size would need about 20 seeds "
        "(n=5 now)"
    )
    assert stats.reason(stats.Interval(0.05, 0.01, 0.09, 5, "t"), 1, 0.0) == ""  # held: no reason
    assert "reversed" in stats.reason(stats.Interval(-0.05, -0.09, -0.01, 5, "t"), 1, 0.02)
    assert "within ±2 pts" in stats.reason(stats.Interval(0.0, -0.01, 0.01, 5, "t"), 1, 0.02, 100, " pts")
    assert "at least 2" in stats.reason(stats.Interval(0.1, math.nan, math.nan, 1, "t"), 1, 0.02)
    clause = stats.Comparison("c", "s", 1, 0.02).judge([0.05, -0.04, 0.06, -0.02, 0.0])
    assert clause.outcome == stats.INCONCLUSIVE and clause.reason in clause.sentence()
