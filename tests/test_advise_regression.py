"""The advisor on a numeric target: validation RMSE (in the target's units) with intervals, the one-SE rule
and the same curve extrapolation, R² beside it; checked against hand formulas and a table whose answer is
known."""

import hashlib
import json
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score

import depthlab
from depthlab.advise.baselines import LINEAR, VERDICTS, linear_run, trees_run
from depthlab.advise.config import ACCURACY, metric_for
from depthlab.advise.curves import extrapolate
from depthlab.advise.runs import r_squared
from depthlab.data import load_dataset
from depthlab.train.evaluate import evaluate


@pytest.fixture(scope="module")
def linear_table(tmp_path_factory):
    """y = 3 x1 - 2 x2 + 0.1 noise: every depth can fit it, so the shallowest is the answer (one-SE rule),
    and the validation RMSE cannot beat the noise (0.1)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + 0.1 * rng.normal(size=600)
    path = tmp_path_factory.mktemp("table") / "linear.csv"
    rows = ["x1,x2,y", *(f"{a:.6f},{b:.6f},{c:.6f}" for (a, b), c in zip(x, y, strict=True))]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_rmse_is_in_the_targets_units_and_r2_is_sklearns(linear_table):
    data = load_dataset(str(linear_table), target="y")
    metric = metric_for(data.task, data.meta)
    assert metric_for("classification", {}) is ACCURACY and metric.name == "rmse"
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    mse = evaluate(model, data.x_val, data.y_val, "regression")["loss"]  # standardized units
    std = data.meta["target_std"][0]
    assert metric.shown(metric.score({"val_loss": mse})) == pytest.approx(math.sqrt(mse) * std)
    with torch.no_grad():
        predicted = model(data.x_val).reshape(-1).numpy()
    assert r_squared(mse, data.y_val) == pytest.approx(r2_score(data.y_val.reshape(-1).numpy(), predicted))
    low, high = -0.3, -0.1  # scores: the RMSE interval's ends swap
    assert metric.shown_interval(-0.2, low, high) == pytest.approx((0.2 * std, 0.1 * std, 0.3 * std))


def test_a_falling_rmse_curve_is_extrapolated_to_its_floor():
    steps = np.arange(10, 210, 10)
    noise = np.random.default_rng(1).normal(scale=0.003, size=len(steps))  # a validation read's jitter
    rmse = 0.2 + 0.8 * steps**-0.5 + noise  # the truth: a power law falling to 0.2
    truth = 0.2 + 0.8 * 2000**-0.5
    predicted = extrapolate(steps, -rmse, 2000, bounds=(-math.inf, 0.0))
    assert predicted.low <= -truth <= predicted.high
    assert -predicted.mean == pytest.approx(truth, abs=0.01)
    assert predicted.high <= 0.0  # an RMSE is never negative


@pytest.fixture(scope="module")
def advice(linear_table, tmp_path_factory):
    out = tmp_path_factory.mktemp("advice")
    options = {"data_options": {"target": "y"}, "model_options": {"width": 16}, "depths": (1, 2, 3)}
    train = {"lr": 0.01, "batch_size": 64}
    result = depthlab.advise(
        str(linear_table), "mlp", out=str(out), steps=300, train=train, quiet=True, **options
    )
    return result, json.loads((out / "advice.json").read_text()), (out / "advice.html").read_text()


def test_a_numeric_target_is_advised_on_validation_rmse_with_r2(advice, linear_table):
    result, data, _ = advice
    assert data["metric"] == "rmse" and data["recommended_depth"] == 1  # every depth fits a plane
    rmse, std = data["rmse"], float(np.std(np.loadtxt(linear_table, delimiter=",", skiprows=1)[:, 2]))
    assert rmse["low"] <= rmse["mean"] <= rmse["high"]
    assert 0.05 <= rmse["mean"] < 0.1 * std  # above the noise (0.1), far below predicting the mean (std)
    assert data["r2"] > 0.99
    chosen = next(c for c in data["candidates"] if c["status"] == "chosen")
    assert chosen["val_rmse_per_seed"] and all(v > 0 for v in chosen["val_rmse_per_seed"])
    text = depthlab.advise.advice.answer(result)
    assert "validation RMSE" in text and "R² " in text


def test_depth_0_trained_by_the_engine_is_the_least_squares_fit(linear_table):
    data = load_dataset(str(linear_table), target="y")
    metric = metric_for(data.task, data.meta)
    run = linear_run(data, 0, {"steps": 600, "lr": 0.05, "batch_size": 128, "eval_every": 1000}, metric)
    x = np.c_[data.x_train.numpy(), np.ones(len(data.x_train))]
    w, *_ = np.linalg.lstsq(x, data.y_train.reshape(-1).numpy(), rcond=None)  # the closed form
    residual = np.c_[data.x_val.numpy(), np.ones(len(data.x_val))] @ w - data.y_val.reshape(-1).numpy()
    assert -run["score"] == pytest.approx(math.sqrt(np.mean(residual**2)), rel=0.02)


def test_the_trees_are_sklearns_defaults_on_the_same_split(linear_table):
    from sklearn.ensemble import HistGradientBoostingRegressor

    data = load_dataset(str(linear_table), target="y")
    run = trees_run(data, 3, metric_for(data.task, data.meta))
    trees = HistGradientBoostingRegressor(random_state=3).fit(data.x_train.numpy(), data.y_train.reshape(-1))
    expected = np.sqrt(np.mean((trees.predict(data.x_test.numpy()) - data.y_test.reshape(-1).numpy()) ** 2))
    assert -run["test_score"] == pytest.approx(expected)


def test_when_a_linear_model_is_as_good_the_first_line_says_depth_does_not_pay(advice):
    result, data, _ = advice
    linear = next(b for b in data["baselines"] if b["name"] == LINEAR)
    assert linear["seeds"] == 3 and linear["rmse"]["low"] <= linear["rmse"]["mean"] <= linear["rmse"]["high"]
    assert data["baseline_verdict"] == VERDICTS[LINEAR]
    assert depthlab.advise.advice.answer(result).splitlines()[0] == VERDICTS[LINEAR]
    assert LINEAR in depthlab.advise.advice.table(result)


def test_what_was_done_to_the_data_is_in_the_json_and_the_page(advice, linear_table):
    _, data, html = advice
    sha = hashlib.sha256(linear_table.read_bytes()).hexdigest()[:12]
    lines = data["data"]["lines"]
    assert lines[0].startswith("data: ") and sha in lines[0] and "600 rows" in lines[0] and "'y'" in lines[0]
    split = data["data"]["meta"]["split"]
    assert split["train"] + split["val"] + split["test"] == 600
    assert any(line.startswith("split: ") for line in lines)
    assert "What was done to the data" in html and sha in html
