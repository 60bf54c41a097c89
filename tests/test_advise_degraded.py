"""A depth that trains but degrades (worse than a shallower one beyond the intervals at a rung, and fitting
its training data worse) gets the doctor's remedy for degradation, residual + BN; a user's norm/residual is
kept."""

import pytest

import depthlab
from depthlab.advise import advisor as advisor_module
from depthlab.advise.advice import Candidate, table
from depthlab.advise.curves import Prediction
from depthlab.advise.degraded import degraded_by, remedy_for_degradation
from depthlab.diagnose.degradation import MIN_LOSS_GAP


def at_rung(depth, mean, half, train_loss):
    c = Candidate(depth, prediction=Prediction(mean, mean - half, mean + half, 100, "test"), rung_steps=30)
    c.rung_run = {"status": "ok", "train_loss": train_loss}
    return c


def test_worse_beyond_the_intervals_and_fitting_worse_is_degradation():
    found = degraded_by(
        4, {2: at_rung(2, 0.9, 0.02, 0.30), 4: at_rung(4, 0.7, 0.05, 0.30 + 2 * MIN_LOSS_GAP)}
    )
    assert found is not None and "depth 2" in found and "+0.100" in found and "30 steps" in found


@pytest.mark.parametrize(
    "shallow, deep",
    [
        ((0.9, 0.02, 0.30), (0.7, 0.05, 0.30 + MIN_LOSS_GAP / 2)),  # fits about as well: not degradation
        ((0.9, 0.02, 0.30), (0.7, 0.05, 0.10)),  # fits better, generalizes worse: overfitting
        ((0.9, 0.10, 0.30), (0.8, 0.05, 0.60)),  # the intervals overlap: not beyond the evidence
        ((0.7, 0.02, 0.60), (0.9, 0.02, 0.30)),  # the deeper one is better
    ],
)
def test_not_degradation(shallow, deep):
    assert degraded_by(4, {2: at_rung(2, *shallow), 4: at_rung(4, *deep)}) is None


def test_only_a_shallower_depth_can_show_degradation():
    # depth 2 is worse than depth 4 beyond the intervals and fits worse, but it is the shallower one
    assert degraded_by(2, {2: at_rung(2, 0.7, 0.02, 0.6), 4: at_rung(4, 0.9, 0.02, 0.3)}) is None


def test_the_remedy_is_residual_bn_unless_the_user_fixed_the_variant():
    assert remedy_for_degradation("mlp", {}, 6) == ("residual+BN", {"norm": "batch", "residual": True})
    assert remedy_for_degradation("mlp", {"norm": "none"}, 6) is None
    assert remedy_for_degradation("mlp", {"residual": False}, 6) is None


TINY = {
    "model_options": {"width": 8},
    "depths": (1, 2, 3),
    "steps": 60,
    "probe_steps": 2,
    "train": {"lr": 0.01, "batch_size": 64},
    "quiet": True,
    "baselines": False,
}


def flag_depth_3(depth, candidates):
    """Stands in for the rule (tested above) so the advisor's handling of a degraded depth is tested alone."""
    return "worse than depth 1 (degradation)" if depth == 3 and not candidates[depth].variant else None


def test_the_advisor_trains_a_degraded_depth_as_residual_bn_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(advisor_module, "degraded_by", flag_depth_3)
    result = depthlab.advise("spirals", "mlp", out=str(tmp_path), **TINY)
    deep = next(c for c in result.candidates if c.depth == 3)
    assert (deep.variant, deep.variant_options) == ("residual+BN", {"norm": "batch", "residual": True})
    assert "degradation" in deep.variant_why and deep.probe["trainable"]
    assert deep.rung_run["steps"] == result.plan.rungs[-1]  # its own run to the rung, from step 0
    assert all(c.variant == "" for c in result.candidates if c.depth != 3)
    row = next(line for line in table(result).splitlines() if line.startswith("3 "))
    assert "residual+BN" in row


def test_a_user_variant_is_kept_for_a_degraded_depth(monkeypatch, tmp_path):
    monkeypatch.setattr(advisor_module, "degraded_by", flag_depth_3)
    options = {**TINY, "model_options": {"width": 8, "residual": False}}
    result = depthlab.advise("spirals", "mlp", out=str(tmp_path), **options)
    assert all(c.variant == "" for c in result.candidates)
