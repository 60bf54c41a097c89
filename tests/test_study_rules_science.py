"""The rules of the residual, overfitting, representation, composition and transfer studies, each against its
own null on synthetic per-seed rows (docs/statistics.md §6): effect present -> held; effect absent -> not held
in at least 90% of 200 simulated draws; effect reversed -> did not hold.

Rows are what the store gives a preset: grid tags, status, metrics, diagnostics and history. Seeds share a
per-seed offset across variants, as paired runs do.
"""

from __future__ import annotations

import numpy as np
import pytest

from depthlab import stats
from depthlab.study.presets import composition, overfitting, representation, residual, transfer

SEEDS = range(5)
DRAWS = 200


def row(
    seed: int, metrics: dict | None = None, diagnostics: dict | None = None, converged=True, **tags
) -> dict:
    return {
        "seed": seed,
        "status": "ok",
        "metrics": metrics or {},
        "diagnostics": diagnostics or {},
        "history": {"converged": converged},
        **tags,
    }


def false_positive_rate(make_rows, analyze, draws: int = DRAWS) -> float:
    """Fraction of ``draws`` simulated data sets (``make_rows(rng)``) on which ``analyze`` says held."""
    rng = np.random.default_rng(12345)
    return sum(analyze(make_rows(rng)).outcome == stats.HELD for _ in range(draws)) / draws


# ---- residual --------------------------------------------------------------------------------------------


def residual_rows(rng, ref=0.97, deep=0.80, resid=0.97, noise=0.01, deep_mid=None, responses=(3.0, 1.0)):
    """Per-seed rows of an equal-budget residual study; the plain deep twin's mid-budget training accuracy is
    ``deep_mid`` (default: as at the end, a gap that is not closing)."""
    rows = []
    for seed in SEEDS:
        shared = rng.normal(0, noise)
        cells = {
            (residual.PLAIN, 8): ref,
            (residual.PLAIN, 20): deep,
            (residual.RESIDUAL, 8): ref,
            (residual.RESIDUAL, 20): resid,
        }
        for (variant, depth), acc in cells.items():
            level = responses[0] if variant == residual.PLAIN else responses[1]
            diag = {"response_std": list(level * np.exp(rng.normal(0, 0.1, 6)))} if depth == 20 else {}
            final = acc + shared + rng.normal(0, noise)
            mid = deep_mid if deep_mid is not None and (variant, depth) == (residual.PLAIN, 20) else final
            r = row(seed, {"train_acc": final}, diag, variant=variant, depth=depth, reference=8)
            r["history"] = {"steps": 1600, "records": [{"step": 800, "trainset_acc": mid}]}
            rows.append(r)
    return rows


def test_residual_present_holds_and_reversed_does_not():
    rng = np.random.default_rng(0)
    assert residual.analyze(residual_rows(rng)).outcome == stats.HELD
    reversed_rows = residual_rows(rng, ref=0.80, deep=0.97, resid=0.80)
    assert residual.analyze(reversed_rows).outcome == stats.NOT_HELD


@pytest.mark.parametrize(
    "absent",
    [
        {"deep": 0.97},  # plain does not degrade
        {"resid": 0.80},  # residual no better than plain at depth
        {"deep": 0.97, "resid": 0.97},  # nothing differs
    ],
)
def test_residual_null_is_rarely_held(absent):
    assert false_positive_rate(lambda rng: residual_rows(rng, **absent), residual.analyze) <= 0.10


def test_residual_gap_that_closes_is_a_slower_start_not_degradation():
    finding = residual.analyze(residual_rows(np.random.default_rng(1), deep_mid=0.40))
    assert finding.outcome == stats.INCONCLUSIVE
    degrades = finding.clauses[0]  # the gap shrank from ~57 to ~17 pts over the last half
    assert degrades.outcome == stats.INCONCLUSIVE and degrades.reason.startswith("slower to train")


def test_residual_response_comparison_reads_the_stored_layer_responses():
    finding = residual.analyze(residual_rows(np.random.default_rng(2), responses=(3.0, 1.0)))
    assert finding.numbers["responses"]["estimate"] == pytest.approx(np.log(3.0), abs=0.1)
    assert finding.numbers["responses"]["outcome"] == stats.HELD


# ---- composition -----------------------------------------------------------------------------------------


def composition_rows(rng, optimum_top=0.05, optimum_covered=1e-15, construct=1e-14, ks=(2, 3, 5)):
    rows = []
    for k in ks:
        top = optimum_top * (1 + rng.normal(0, 0.05)) if k == max(ks) else 0.02
        rows.append(row(0, {"test_loss": construct}, {"pieces": 2**k}, k=k, shape=composition.CONSTRUCTED))
        optimum = optimum_covered if 2 * k + 1 >= 2**k else top
        rows.append(row(0, {"test_loss": optimum}, {"pieces": 2 * k + 1}, k=k, shape=composition.OPTIMUM))
        for seed in SEEDS:
            for shape in (composition.DEEP, composition.SHALLOW):
                rows.append(
                    row(seed, {"test_loss": 0.0835 + rng.normal(0, 1e-4)}, {"pieces": 1}, k=k, shape=shape)
                )
    return rows


def test_composition_present_holds_and_reports_constant_fits():
    finding = composition.analyze(composition_rows(np.random.default_rng(0)))
    assert finding.outcome == stats.HELD
    assert finding.numbers["trained"][composition.DEEP]["constant"] == 5  # every trained net: MSE ~ 1/12
    assert "learned a constant in 5" in finding.verdict


@pytest.mark.parametrize(
    "absent",
    [
        {"optimum_top": 0.004},  # a shallow net could fit the largest k: depth does not win
        {
            "optimum_covered": 0.03
        },  # the shallow budget fails even where it covers 2^k: the gap is not the budget
    ],
)
def test_composition_null_is_rarely_held(absent):
    rate = false_positive_rate(lambda rng: composition_rows(rng, **absent), composition.analyze)
    assert rate <= 0.10


def test_composition_reversed_does_not_hold():
    rows = composition_rows(np.random.default_rng(0), optimum_top=0.001, construct=0.05)
    assert composition.analyze(rows).outcome == stats.NOT_HELD


# ---- overfitting -----------------------------------------------------------------------------------------


def overfitting_rows(rng, deep_gap=0.15, dropout_cut=0.08, dropout_test=0.04, noise=0.01):
    """Per seed: train accuracy 1.0 minus noise; test accuracy set so the accuracy gaps are as given."""
    rows = []
    for seed in SEEDS:
        shared = rng.normal(0, noise)
        gaps = {
            (2, 0.0): 0.40,
            (8, 0.0): 0.40 + deep_gap,
            (2, 0.3): 0.38,
            (8, 0.3): 0.40 + deep_gap - dropout_cut,
        }
        for (depth, p), gap in gaps.items():
            test = 0.55 + shared + rng.normal(0, noise) + (dropout_test if (depth, p) == (8, 0.3) else 0.0)
            train = test + gap + rng.normal(0, noise)
            metrics = {"train_acc": train, "test_acc": test, "train_loss": 0.01, "test_loss": 2.0}
            rows.append(row(seed, metrics, train_size=300, depth=depth, dropout=p, variant=f"{depth}/{p}"))
    return rows


def test_overfitting_present_holds_and_reversed_does_not():
    rng = np.random.default_rng(0)
    assert overfitting.analyze(overfitting_rows(rng)).outcome == stats.HELD
    reversed_rows = overfitting_rows(rng, deep_gap=-0.15, dropout_cut=-0.08, dropout_test=-0.04)
    assert overfitting.analyze(reversed_rows).outcome == stats.NOT_HELD


@pytest.mark.parametrize(
    "absent",
    [
        {"deep_gap": 0.0},  # depth does not widen the gap
        {"dropout_cut": 0.0},  # dropout does not narrow it
        {"dropout_test": 0.0},  # dropout does not raise test accuracy
    ],
)
def test_overfitting_null_is_rarely_held(absent):
    assert false_positive_rate(lambda rng: overfitting_rows(rng, **absent), overfitting.analyze) <= 0.10


def test_overfitting_judges_the_accuracy_gap_not_the_loss_gap():
    # A loss gap that grows with depth while the accuracy gap shrinks (the old rule's failure) is not held.
    rows = overfitting_rows(np.random.default_rng(3), deep_gap=-0.04)
    for r in rows:
        r["metrics"]["test_loss"] = 2.0 + (1.0 if r["depth"] == 8 else 0.0)
    finding = overfitting.analyze(rows)
    assert finding.clauses[0].outcome == stats.NOT_HELD
    assert finding.outcome == stats.NOT_HELD


# ---- representation --------------------------------------------------------------------------------------


def representation_rows(rng, trained_rise=0.15, init_rise=0.0, noise=0.01, layers=8):
    rows = []
    for seed in SEEDS:
        shared = rng.normal(0, noise)
        raw = 0.30 + shared

        def curve(total, raw=raw, shared=shared):
            steps = np.linspace(0, total, layers - 1)  # stem .. last block
            return [raw] + list(0.40 + shared + steps + rng.normal(0, noise, layers - 1))

        diagnostics = {"probes": curve(trained_rise), "probes_init": curve(init_rise)}
        rows.append(row(seed, {"test_acc": 0.6}, diagnostics, model="mlp"))
    return rows


def test_representation_present_holds_and_reversed_does_not():
    rng = np.random.default_rng(0)
    assert representation.analyze(representation_rows(rng)).outcome == stats.HELD
    reversed_rows = representation_rows(rng, trained_rise=-0.10, init_rise=0.05)
    assert representation.analyze(reversed_rows).outcome == stats.NOT_HELD


@pytest.mark.parametrize(
    "absent",
    [
        {"trained_rise": 0.0},  # flat probes in the trained net
        {"trained_rise": 0.15, "init_rise": 0.15},  # the same rise at init: not from training
    ],
)
def test_representation_null_is_rarely_held(absent):
    rate = false_positive_rate(lambda rng: representation_rows(rng, **absent), representation.analyze)
    assert rate <= 0.10


# ---- transfer --------------------------------------------------------------------------------------------


def transfer_rows(rng, tuned=0.80, frozen=0.75, scratch=0.70, noise=0.015):
    rows = []
    for seed in SEEDS:
        shared = rng.normal(0, noise)
        rows.append(
            row(
                seed,
                {"test_acc": scratch + shared + rng.normal(0, noise)},
                mode="scratch",
                layers=0,
                judged=3,
            )
        )
        for layers in (1, 3):
            for mode, acc in (("fine-tuned", tuned), ("frozen", frozen)):
                metrics = {"test_acc": acc + shared + rng.normal(0, noise)}
                rows.append(row(seed, metrics, mode=mode, layers=layers, judged=3))
    return rows


def test_transfer_present_holds_and_reversed_does_not():
    rng = np.random.default_rng(0)
    assert transfer.analyze(transfer_rows(rng)).outcome == stats.HELD
    assert (
        transfer.analyze(transfer_rows(rng, tuned=0.60, frozen=0.70, scratch=0.70)).outcome == stats.NOT_HELD
    )


@pytest.mark.parametrize(
    "absent",
    [
        {
            "tuned": 0.70,
            "frozen": 0.70,
            "scratch": 0.70,
        },  # nothing differs (the old rule held ~half the time)
        {"tuned": 0.70, "frozen": 0.65, "scratch": 0.70},  # fine-tuning no better than scratch
        {"tuned": 0.80, "frozen": 0.80, "scratch": 0.70},  # fine-tuning no better than frozen
    ],
)
def test_transfer_null_is_rarely_held(absent):
    assert false_positive_rate(lambda rng: transfer_rows(rng, **absent), transfer.analyze) <= 0.10


def test_transfer_frozen_beating_fine_tuned_is_not_held():
    # Frozen-1 beating every fine-tuned setting contradicts "more so when fine-tuned".
    finding = transfer.analyze(transfer_rows(np.random.default_rng(4), tuned=0.78, frozen=0.84, scratch=0.70))
    assert finding.outcome == stats.NOT_HELD
    assert finding.clauses[1].outcome == stats.NOT_HELD
