"""A depth's seed 0 trained in pieces (rung by rung, then the full budget) is the run trained in one go, and
the advice keeps, for each pruned depth, the prediction that cut it when it was cut."""

import json

import pytest

import depthlab
from depthlab.advise.advisor import Advisor
from depthlab.advise.config import AdviseConfig
from depthlab.advise.continued import continued_run
from depthlab.advise.runs import predict, train_run
from depthlab.data import load_dataset

# a cosine schedule: a piece's learning rate is right only if the schedule spans the whole budget
TRAIN = {
    "lr": 0.01,
    "batch_size": 64,
    "schedule": "cosine",
    "steps": 60,
    "plateau_window": 6,
    "plateau_tol": 0.01,
}
KEYS = {"width": 8}


@pytest.fixture(scope="module")
def spirals():
    return load_dataset("spirals")


def pieces(data, tmp_path, stops, train=TRAIN, every=5):
    earlier, results = None, []
    for stop in stops:
        here = tmp_path / str(stop)
        run = continued_run("mlp", KEYS, data, 3, train, stop, here, earlier, every)
        earlier = (here, run)
        results.append(run)
    return results


@pytest.mark.parametrize("stops", [[20, 60], [7, 20, 33, 60]])
def test_pieces_equal_one_uninterrupted_run(spirals, tmp_path, stops):
    oracle = train_run("mlp", KEYS, spirals, 3, 0, TRAIN, 5)
    runs = pieces(spirals, tmp_path, stops)
    last = runs[-1]
    for key in ("score", "test_score", "train_loss", "steps", "converged"):
        assert last[key] == oracle[key], key
    assert [tuple(p) for p in last["val_curve"]] == [tuple(p) for p in oracle["val_curve"]]
    assert sum(r["trained"] for r in runs) == oracle["steps"]  # every step paid once
    assert not (tmp_path / str(stops[-1])).exists() and not (tmp_path / str(stops[0])).exists()


def test_a_piece_equals_the_uninterrupted_run_read_at_its_step(spirals, tmp_path):
    """The rung's curve is the full run's curve up to the rung (the schedule is the full budget's)."""
    oracle = train_run("mlp", KEYS, spirals, 3, 0, TRAIN, 5)
    rung = pieces(spirals, tmp_path, [30])[0]
    assert rung["val_curve"] == [p for p in oracle["val_curve"] if p[0] <= 30]
    assert rung["trained"] == rung["steps"] == 30


def test_a_missing_checkpoint_retrains_from_the_start(spirals, tmp_path):
    first = pieces(spirals, tmp_path / "a", [20])[0]
    lost = (tmp_path / "gone", first)  # the folder was deleted: same run, at the full cost
    run = continued_run("mlp", KEYS, spirals, 3, TRAIN, 60, tmp_path / "b", lost, 5)
    oracle = train_run("mlp", KEYS, spirals, 3, 0, TRAIN, 5)
    assert run["score"] == oracle["score"] and run["trained"] == oracle["steps"]


TINY = {
    "model_options": KEYS,
    "depths": (1, 2, 3, 4),
    "steps": 60,
    "finalists": 1,
    "probe_steps": 2,
    "train": {"lr": 0.01, "batch_size": 64},
    "quiet": True,
    "baselines": False,
}


@pytest.fixture(scope="module")
def advice(tmp_path_factory):
    out = tmp_path_factory.mktemp("advice")
    result = depthlab.advise("spirals", "mlp", out=str(out), **TINY)
    return result, json.loads((out / "advice.json").read_text()), out


def test_the_advice_seed_zero_is_the_uninterrupted_full_budget_run(advice, spirals):
    result, _, out = advice
    full = Advisor(AdviseConfig("spirals", out=str(out), **TINY))._full_budget(result.plan)
    for c in result.candidates:
        for run in c.runs[:1]:
            oracle = train_run("mlp", KEYS, spirals, c.depth, 0, full)
            assert (run["score"], run["steps"]) == (oracle["score"], oracle["steps"])
    assert not list((out / "continued").glob("*/*/latest.json"))  # finished runs leave no checkpoint


def test_a_pruned_row_states_the_prediction_that_cut_it(advice):
    result, data, _ = advice
    cut = [c for c in result.candidates if c.pruned_at_step == result.plan.rungs[-1]]
    assert cut, "a rung pruned nothing: the test needs a cut"
    for c in cut:
        then = predict(c.rung_run, result.plan.full_steps)  # the prediction from its curve at the rung
        row = next(r for r in data["candidates"] if r["depth"] == c.depth)["pruned"]
        assert row["at_step"] == result.plan.rungs[-1]
        assert (row["prediction"]["mean"], row["prediction"]["low"]) == (then.mean, then.low)
        assert row["rule"] in ("ruled out", "rung full") and f"at {then.at} steps" in row["why"]
        assert c.predicted.high >= c.prediction.high  # the table's interval is the widened one; the cut's not
    assert all(r["pruned"] is None for r in data["candidates"] if r["status"] != "pruned")


def test_a_rerun_reuses_every_piece_and_trains_nothing(advice):
    result, data, out = advice
    again = depthlab.advise("spirals", "mlp", out=str(out), **TINY)
    assert again.recommended.depth == result.recommended.depth
    assert again.steps_used == result.steps_used and again.resumed > 0
