"""The studies' measured directions, on tiny versions of the real preset grids (real training, real numbers).

Each test shrinks one preset (fewer depths, one seed, fewer steps) and checks the direction the preset's claim
predicts on real nets. No test asserts a verdict here: a verdict needs 5 seeds trained to convergence, and
the rules themselves are tested against their nulls in test_study_rules.py.
"""

from __future__ import annotations

import pytest

from depthlab.study.plan import Plan
from depthlab.study.presets import (
    composition,
    gradients,
    overfitting,
    rank_collapse,
    representation,
    residual,
    transformer_norm,
)
from depthlab.study.report import rows_for
from depthlab.study.runner import execute
from depthlab.study.store import Store

pytestmark = pytest.mark.slow


def run_tiny(
    module, size: dict, tmp_path, data: str = "mnist1d", measure: bool = True, only: dict | None = None
):
    """Run ``module``'s grid at a test size (``measure=False`` drops the diagnostics; ``only`` keeps the specs
    with these top-level values); returns the rows."""
    module.SIZES["test"] = size
    try:
        specs = [s for s in module.grid("test", data) if all(s.get(k) == v for k, v in (only or {}).items())]
        plan = Plan(module.STUDY, data, "", specs)
    finally:
        del module.SIZES["test"]
    for spec in plan.specs if not measure else []:
        spec["diagnostics"] = []
    summary = execute(plan.specs, tmp_path, quiet=True)
    assert summary.statuses.get("failed", 0) == 0
    with Store(tmp_path) as store:
        return rows_for(plan, store)


def test_residual_plain_degrades_with_depth_and_residual_does_not(tmp_path):
    size = {
        "depths": [4, 32],
        "reference": 4,
        "seeds": [0],
        "other_seeds": [0],
        "steps": 400,
        "batch_size": 128,
        "width": 32,
    }
    rows = run_tiny(
        residual, size | {"train_size": 1000}, tmp_path, measure=False
    )  # lesions: not checked here
    acc = {(r["variant"], r["depth"]): r["metrics"]["train_acc"] for r in rows}
    assert acc[("plain+BN", 32)] < acc[("plain+BN", 4)] - 0.15
    assert acc[("residual+BN", 32)] > acc[("plain+BN", 32)] + 0.15


def test_pure_attention_collapses_at_init_and_skips_keep_the_tokens_apart(tmp_path):
    size = {"depth": 3, "width": 16, "seeds": [0], "steps": 10}
    rows = run_tiny(rank_collapse, size, tmp_path, data=rank_collapse.DATA)
    lost = {r["variant"]: rank_collapse.decades_lost(r, "rank_init") for r in rows}
    assert lost[rank_collapse.ATTENTION_ONLY] > 3 and lost[rank_collapse.SKIPS] < 1
    assert all(len(rank_collapse.readings(r)) == 3 + 1 for r in rows)  # the embedding, then each block


def test_post_ln_gradients_grow_towards_the_output_at_init_and_pre_ln_ones_do_not(tmp_path):
    # Xiong et al.'s Fig. 3 on the preset's own nets, at init (a few steps of training are not judged here)
    size = {"depths": [8], "seeds": [0], "pre_ln_seeds": [0], "steps": 2, "warmup": 1, "batch": 32}
    rows = run_tiny(transformer_norm, size, tmp_path, data=transformer_norm.DATA)
    tilt = {r["form"]: transformer_norm.top_over_bottom(r) for r in rows}
    assert tilt["post-LN"] > 0 > tilt["pre-LN"]
    assert tilt["post-LN"] == tilt["post-LN + warm-up"]  # the same init: warm-up acts only on training
    assert all(len(r["diagnostics"]["block_grads_init"]) == 8 for r in rows)


def test_gradients_vanish_with_saturating_units_and_not_with_relu_he(tmp_path):
    # The init measurements only (no training): a direction checked on the real nets, not a verdict.
    size = {"depths": [24], "trained_depth": 24, "seeds": [0], "steps": 250, "width": 32}
    rows = [r for r in run_tiny(gradients, size, tmp_path, only={"task": "init"}) if r["part"] == "init"]
    decades = {r["setup"]: gradients.log_ratio(r) for r in rows}
    assert decades["sigmoid/default"] > 3 and decades["tanh/default"] > 2  # orders of magnitude lost
    assert abs(decades["relu/he"]) < 1


def test_probe_accuracy_rises_with_layer_index_on_a_trained_net(tmp_path):
    size = {"models": {"mlp": {"model.name": "mlp", "model.depth": 6}}, "seeds": [0], "steps": 400}
    rows = run_tiny(representation, size, tmp_path)
    assert representation.rise(rows[0]) > 0.05  # last block minus stem, trained
    assert representation.rise(rows[0]) > representation.rise(rows[0], "probes_init")


def test_composition_deep_narrow_represents_the_sawtooth_a_shallow_net_cannot(tmp_path):
    rows = run_tiny(composition, {"ks": [2, 5], "seeds": [0, 1], "steps": 600}, tmp_path)
    constructed = {r["k"]: r for r in rows if r["shape"] == "deep (constructed)"}
    assert {k: composition.pieces(r) for k, r in constructed.items()} == {2: 4, 5: 32}  # exactly 2^k pieces
    assert constructed[5]["metrics"]["test_loss"] < 1e-10
    shallow = [r for r in rows if r["shape"] == "shallow (trained)" and r["k"] == 5]
    assert all(
        composition.pieces(r) <= 2 * 5 + 1 for r in shallow
    )  # one hidden layer of m units: <= m+1 pieces
    assert (
        min(r["metrics"]["test_loss"] for r in shallow) > 100 * constructed[5]["metrics"]["test_loss"] + 0.01
    )
    optimum = {r["k"]: r["metrics"]["test_loss"] for r in rows if r["shape"] == composition.OPTIMUM}
    assert optimum[2] < 1e-10 < 0.01 < optimum[5]  # 5 pieces cover tent^2's 4; 11 cannot cover tent^5's 32
    assert min(r["metrics"]["test_loss"] for r in shallow) >= optimum[5]  # no trained net beats the optimum


def test_overfitting_small_training_sets_are_fit_far_beyond_test_accuracy(tmp_path):
    size = {
        "train_sizes": [300],
        "depths": [2, 8],
        "dropout": 0.3,
        "seeds": [0],
        "other_seeds": [0],
        "steps": 400,
        "width": 32,
    }
    rows = run_tiny(overfitting, size, tmp_path)
    # The premise the rule builds on: without dropout both nets fit 300 examples far better than they
    # generalize, and dropout narrows that gap. Whether depth widens it on MNIST-1D is the rule's question,
    # judged on 5 seeds, not asserted here.
    gap = {(r["depth"], r["dropout"]): overfitting.accuracy_gap(r) for r in rows}
    assert min(gap[(2, 0.0)], gap[(8, 0.0)]) > 0.3
    assert gap[(2, 0.3)] < gap[(2, 0.0)] and gap[(8, 0.3)] < gap[(8, 0.0)]
