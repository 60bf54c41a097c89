"""The engine learns: MNIST-1D accuracies near the published ones (Greydanus 2020, arXiv 2011.14439: logistic
32%, MLP 68%, CNN 94%) in CI-sized runs, and a 2-layer MLP solves XOR."""

import pytest
import torch

from depthlab.data import load_dataset
from depthlab.models import create_model
from depthlab.train import fit

CPU = dict(quiet=True, device="cpu", batch_size=100)


@pytest.fixture(scope="module")
def mnist1d():
    return load_dataset("mnist1d")


def train(name, data, model_kw, **train_kw):
    torch.manual_seed(0)
    model = create_model(name, **data.model_kwargs(), **model_kw)
    return fit(model, data, **CPU, **train_kw)


@pytest.mark.slow
def test_logistic_regression_is_near_the_published_32_percent(mnist1d):
    history = train("mlp", mnist1d, {"depth": 1}, epochs=30, lr=1e-2)
    assert 0.25 <= history.final["test_acc"] <= 0.40


@pytest.mark.slow
def test_mlp_beats_60_percent(mnist1d):
    history = train(
        "mlp", mnist1d, {"depth": 3, "width": 100}, epochs=30, lr=1e-2, schedule="cosine", weight_decay=0.05
    )
    assert history.final["test_acc"] >= 0.60


@pytest.mark.slow
def test_cnn_beats_88_percent(mnist1d):
    history = train("cnn1d", mnist1d, {}, epochs=25, lr=1e-2, schedule="cosine")
    assert history.final["test_acc"] >= 0.88


def test_two_layer_mlp_solves_xor():
    data = load_dataset("xor")
    torch.manual_seed(0)
    model = create_model("mlp", depth=2, width=8, activation="tanh", **data.model_kwargs())
    history = fit(model, data, steps=300, batch_size=4, lr=0.05, quiet=True, device="cpu")
    assert history.final["test_acc"] == 1.0 and history.final["train_acc"] == 1.0
