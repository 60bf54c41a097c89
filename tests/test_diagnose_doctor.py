"""doctor: verdicts on constructed cases (the issue's oracles) and on hand-made watch tables."""

import math

import pytest

from depthlab.data import load_dataset
from depthlab.diagnose.doctor import (
    THRESHOLDS,
    degradation_verdict,
    doctor,
    gradient_ratio,
    verdicts,
)
from depthlab.errors import DepthlabError


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist1d")


def flagged(report) -> set[str]:
    return {v.check for v in report.problems}


def run(data, **config):
    return doctor("mlp", data, steps=20, every=5, twin=False, depth=20, **config)


def test_deep_sigmoid_mlp_with_default_init_is_flagged_vanishing(data):
    report = run(data, activation="sigmoid")
    assert "vanishing gradients" in flagged(report)
    assert gradient_ratio(report.rows) < THRESHOLDS["vanishing_ratio"]
    assert "activation=relu" in report.text() and "PROBLEM vanishing gradients" in report.text()


def test_deep_relu_mlp_with_he_init_and_batchnorm_is_healthy(data):
    report = run(data, activation="relu", init="he_normal", norm="batch")
    assert flagged(report) == set()


def test_huge_init_scale_is_flagged_exploding(data):
    report = run(data, activation="relu", init="normal(1.0)")
    assert "exploding gradients" in flagged(report)


def rows_for(grads, dead=(math.nan,), saturated=(math.nan,), step=0):
    return [
        {
            "step": step,
            "layer": i,
            "depth": i + 1,
            "name": f"l{i}",
            "grad_norm": g,
            "weight_norm": 1.0,
            "dead_frac": dead[i % len(dead)],
            "saturated_frac": saturated[i % len(saturated)],
        }
        for i, g in enumerate(grads)
    ]


def test_verdicts_on_hand_made_tables():
    healthy = {v.check: v for v in verdicts(rows_for([1.0, 0.5, 2.0], dead=[0.1]))}
    assert not any(v.flagged for v in healthy.values())
    assert healthy["vanishing gradients"].value == pytest.approx(0.5)  # 1.0 / 2.0
    found = {v.check: v for v in verdicts(rows_for([1e-5, 1.0], dead=[0.0, 0.8]), "diverged", 42)}
    assert found["vanishing gradients"].flagged and found["dead units"].flagged
    assert "'l1': 80%" in found["dead units"].evidence
    assert found["divergence"].flagged and "step 42" in found["divergence"].evidence
    assert verdicts(rows_for([1e3, 1.0]))[1].flagged  # exploding by the first/last ratio
    assert verdicts(rows_for([1e3, 1e3]))[1].flagged  # both ends blown up: caught by gradient/weight norm
    assert {v.check for v in verdicts(rows_for([1.0, 1.0], saturated=[0.9])) if v.flagged} == {"saturation"}


def test_only_the_last_step_counts_for_dead_units():
    rows = rows_for([1.0, 1.0], dead=[0.9], step=0) + rows_for([1.0, 1.0], dead=[0.1], step=10)
    assert not {v.check: v for v in verdicts(rows)}["dead units"].flagged


def test_degradation_verdict():
    assert degradation_verdict(20, 0.40, 10, 0.60, 0.02).flagged
    assert not degradation_verdict(20, 0.61, 10, 0.60, 0.02).flagged
    assert "depth 20 fits 40.0%" in degradation_verdict(20, 0.40, 10, 0.60, 0.02).evidence


def test_bad_input(data):
    with pytest.raises(DepthlabError, match="threshold"):
        verdicts(rows_for([1.0]), thresholds={"vanishing": 0.1})
    with pytest.raises(DepthlabError, match="mlpp"):
        doctor("mlpp", data, steps=1)
    with pytest.raises(DepthlabError, match="widht"):
        doctor("mlp", data, steps=1, widht=3)


def test_any_module_can_see_the_doctor(data):
    from torch import nn

    layers = [nn.Flatten(), nn.Linear(40, 32), nn.Sigmoid()]
    for _ in range(10):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    report = doctor(nn.Sequential(*layers, nn.Linear(32, 10)), data, steps=4, every=2, lr=1e-3)
    assert report.model == "Sequential" and "vanishing gradients" in flagged(report)
    assert report.twin is None  # no registered config to halve: no degradation check
