"""The probes: gradient flow at init drops untrainable depths; the ratio is read as documented."""

import math

import pytest
import torch

from depthlab.advise.runs import UNTRAINABLE_RATIO, flow_ratio, probe
from depthlab.data import load_dataset
from depthlab.diagnose.checks import THRESHOLDS
from depthlab.models import create_model
from depthlab.train import TrainConfig


def rows(values, step=0):
    return [
        {"step": step, "layer": i, "depth": i + 1, "name": f"l{i}", "act_grad_rms": v}
        for i, v in enumerate(values)
    ]


def test_flow_ratio_is_the_doctors_first_over_last_hidden_layer_at_the_first_step():
    table = rows([2.0, 5.0, 8.0, 100.0]) + rows([1.0, 1.0, 1.0, 1.0], step=1)  # the head (100) left out
    assert flow_ratio(table) == 0.25
    assert flow_ratio(list(reversed(rows([3.0, 6.0, 0.1])))) == 0.5  # read along the depth, not row order
    assert math.isnan(flow_ratio(rows([3.0, 0.1])))  # one hidden layer: not judged
    assert UNTRAINABLE_RATIO == THRESHOLDS["vanishing_ratio"]  # the doctor's threshold, not a second one


def test_a_depth_the_probe_cannot_judge_is_kept_and_stored_without_nan():
    from depthlab.advise.runs import ProbeResult

    result = ProbeResult(depth=2, flow_ratio=math.nan, seconds_per_step=0.1, finite=True, steps=2)
    assert result.trainable and result.to_dict()["flow_ratio"] is None
    assert not ProbeResult(3, 0.5 * UNTRAINABLE_RATIO, 0.1, True, 2).trainable
    assert ProbeResult(3, 2 * UNTRAINABLE_RATIO, 0.1, True, 2).trainable


@pytest.fixture(scope="module")
def data():
    return load_dataset("spirals")


def test_a_deep_sigmoid_net_with_a_tiny_init_is_dropped_and_a_relu_net_kept(data):
    config = TrainConfig(lr=0.01, batch_size=64)
    dead = create_model(
        "mlp", depth=12, width=16, activation="sigmoid", init="normal(0.01)", **data.model_kwargs()
    )
    result = probe(dead, data, config, depth=12, steps=3)
    assert result.flow_ratio < UNTRAINABLE_RATIO and not result.trainable
    assert "vanishing" in result.reason() and "norm=batch" in result.reason()
    healthy = probe(
        create_model("mlp", depth=3, width=16, **data.model_kwargs()), data, config, depth=3, steps=3
    )
    assert healthy.trainable and healthy.reason() == "" and healthy.seconds_per_step > 0


def test_a_nan_loss_marks_the_depth_untrainable(data):
    model = create_model("mlp", depth=2, width=8, **data.model_kwargs())
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    result = probe(model, data, TrainConfig(), depth=2, steps=2)
    assert not result.finite and not result.trainable and "NaN" in result.reason()
