"""The doctor against oracles: the issue's constructed nets run as a user runs them (twin on), hand-made watch
tables with known ratios, autograd for dLoss/dh, and null simulations of the degradation rule."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab import stats
from depthlab.data import load_dataset
from depthlab.diagnose import degradation as deg
from depthlab.diagnose import diagnose, doctor, verdicts, watch
from depthlab.diagnose.checks import RECENT_STEPS, THRESHOLDS, recorded_steps
from depthlab.diagnose.doctor import _twins_ahead
from depthlab.diagnose.remedies import pick
from depthlab.diagnose.verdict import Verdict
from depthlab.diagnose.watch import Watch
from depthlab.errors import DepthlabError
from dloss_dh import autograd_dloss_dh_rms, one_watched_step


@pytest.fixture(scope="module")
def mnist1d():
    return load_dataset("mnist1d")


@pytest.fixture(scope="module")
def circle():
    return load_dataset("circle")


def by_check(report_or_list) -> dict[str, Verdict]:
    found = getattr(report_or_list, "verdicts", report_or_list)
    return {v.check: v for v in found}


def user_run(data, **config):
    """``depthlab doctor mlp ...`` with a short watched run and a small degradation budget."""
    return doctor("mlp", data, steps=20, every=5, twin_steps=40, **config)


# --- the constructed nets ---


def test_relu_xavier_depth_24_is_flagged_vanishing_and_he_init_is_the_remedy(mnist1d):
    # He et al. 2015's "stalls completely" case: Xavier halves the gradient's variance per ReLU layer
    report = user_run(mnist1d, depth=24, activation="relu", init="xavier_uniform")
    v = by_check(report)["vanishing gradients"]
    assert v.status == "PROBLEM" and v.remedy == {"init": "he_normal"}
    assert v.line().startswith("PROBLEM vanishing gradients: dLoss/dh RMS") and v.line().endswith(
        "— try init=he_normal"
    )
    # the ratio at init is about 2^-11 (22 hidden layers, variance halved per layer): measured 5.8e-4
    assert "0.0005" in v.message or "0.0006" in v.message
    assert by_check(report)["degradation"].status == "note"  # 40 steps is no plateau: not judged


def test_sigmoid_depth_20_is_flagged_vanishing_and_the_remedy_changes_the_activation(mnist1d):
    report = user_run(mnist1d, depth=20, activation="sigmoid")
    v = by_check(report)["vanishing gradients"]
    assert v.status == "PROBLEM" and v.remedy == {"activation": "relu", "init": "he_normal"}
    assert "PROBLEM vanishing gradients" in report.text().splitlines()[1]  # problems come first


def test_relu_he_batchnorm_depth_20_has_no_problem(mnist1d):
    report = user_run(mnist1d, depth=20, activation="relu", init="he_normal", norm="batch")
    assert report.problems == []
    assert by_check(report)["vanishing gradients"].status == "ok"
    assert by_check(report)["exploding gradients"].status == "ok"


def test_huge_init_is_flagged_exploding_with_a_scaled_init(mnist1d):
    report = user_run(mnist1d, depth=20, activation="relu", init="normal(1.0)")
    v = by_check(report)["exploding gradients"]
    assert v.status == "PROBLEM" and v.remedy == {"init": "he_normal"}


def test_a_remedy_never_repeats_a_setting(mnist1d):
    report = user_run(mnist1d, depth=20, activation="sigmoid", init="he_normal")
    assert by_check(report)["vanishing gradients"].remedy == {"activation": "relu"}  # init is already He
    settings = {"activation": "relu", "init": "he_normal", "norm": "batch", "residual": False}
    assert pick(settings, [{"init": "he_normal"}, {"norm": "batch"}, {"residual": True}]) == {
        "residual": True
    }
    assert pick(settings | {"residual": True}, [{"norm": "batch"}, {"residual": True}]) == {}
    assert pick(None, [{"norm": "batch"}]) == {}  # an unknown model has no dials to name


# --- degradation ---


def test_a_slower_start_is_not_degradation(mnist1d):
    # the case: depth 20 (ReLU, He, BN) is behind depth 10 after 200 steps, and depth 10 is still
    # gaining fast: too early to judge, never a problem
    report = doctor(
        "mlp",
        mnist1d,
        steps=10,
        every=5,
        twin_steps=200,
        depth=20,
        activation="relu",
        init="he_normal",
        norm="batch",
    )
    v = by_check(report)["degradation"]
    losses, mid = report.twin["train_loss"], report.twin["train_loss_mid"]
    assert losses["20"][0] > losses["10"][0]
    assert mid["10"][0] - losses["10"][0] > deg.MIN_LOSS_GAP  # the shallower twin had not settled
    assert v.status == "note" and v.message.startswith("not judged: too early")
    assert "degradation" not in {p.check for p in report.problems}


def test_the_doctor_says_each_run_as_it_starts_and_the_cli_keeps_stdout_for_the_report(mnist1d, capsys):
    heard = []
    doctor("mlp", mnist1d, steps=4, every=2, twin_steps=6, seeds=2, depth=4, progress=heard.append)
    twins = [f"doctor: degradation twin, depth {d}, seed {s} of 2, 6 steps" for s in (1, 2) for d in (4, 2)]
    assert heard[0] == "doctor: mlp, 4 steps with watch on" and heard[2:] == twins
    assert heard[1].startswith("doctor: degradation twins next, depth 4 and 2 x 2 seeds x 6 steps, about ")

    plan = deg.TwinPlan(steps=4000, seeds=3)  # 3 x 4000 steps at depth 8 and at 4 (half as dear) at 10 ms
    assert "about 3 min at this pace" in _twins_ahead(8, plan, pace=0.010)
    assert "about 90 s at this pace" in _twins_ahead(8, plan, pace=0.005)

    from depthlab.cli import main

    assert main(["doctor", "mlp", "depth=4", "--steps", "4", "--twin-steps", "6", "--seeds", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("doctor: mlp — ")  # the report; the progress went to stderr
    lines = err.splitlines()
    assert lines[0] == heard[0] and lines[2:] == [line.replace("of 2", "of 1") for line in twins[:2]]


def test_a_deep_net_stalled_beside_a_settled_twin_is_degraded_and_given_the_remedy():
    # the readings of a plain sigmoid depth 8 stalled at ln 2 from the middle of the budget to its end, and a
    # depth-4 twin that had fitted the circle by the middle (settled); a real run of that kind escapes
    # ln 2 after some hundreds of steps on some seeds, so a short real run would be "too early" instead
    stalled = [math.log(2)] * 3
    runs = twin_runs(stalled, [0.01, 0.02, 0.015], deep_mid=stalled, shallow_mid=[0.03, 0.04, 0.03])
    v = deg.verdict(runs, PLAN, {"activation": "sigmoid", "norm": "none", "residual": False})
    assert v.status == "PROBLEM" and v.remedy == {"residual": True, "norm": "batch"}


def test_a_residual_net_and_its_twin_at_an_equal_budget_show_no_degradation(circle):
    report = doctor(
        "mlp",
        circle,
        steps=10,
        every=5,
        twin_steps=600,
        depth=8,
        width=16,
        activation="relu",
        init="he_normal",
        norm="batch",
        residual=True,
        lr=0.01,
        batch_size=64,
    )
    v = by_check(report)["degradation"]
    assert v.status == "ok" and v.message.startswith("after 600 steps each")


def twin_runs(deep, shallow, deep_mid=None, shallow_mid=None):
    """Twin readings per seed: ends as given; the middle equal to the end (settled, no trend) unless given."""
    runs = deg.TwinRuns(8, 4)
    deep_mid = deep if deep_mid is None else deep_mid
    shallow_mid = shallow if shallow_mid is None else shallow_mid
    for seed, values in enumerate(zip(shallow_mid, shallow, deep_mid, deep, strict=True)):
        runs.readings[seed] = deg.Readings(*map(float, values))
    return runs


PLAN = deg.TwinPlan(steps=100, seeds=5)


def simulated(gap, sd=0.05, n=5, draws=200, gap_mid=None, shallow_gain=0.0):
    rng = np.random.default_rng(0)
    statuses = []
    for _ in range(draws):
        shallow = rng.uniform(0.1, 0.5, n)  # seeds differ a lot; the pairing removes it
        deep = shallow + gap + rng.normal(0, sd, n)
        deep_mid = deep if gap_mid is None else shallow + shallow_gain + gap_mid + rng.normal(0, sd, n)
        runs = twin_runs(deep, shallow, deep_mid, shallow + shallow_gain)
        statuses.append(deg.verdict(runs, PLAN, None).status)
    return {s: statuses.count(s) / draws for s in ("PROBLEM", "ok", "note")}


def test_degradation_rule_under_its_null_present_and_reversed():
    assert simulated(gap=0.0)["PROBLEM"] <= 0.10  # absent: not flagged in >= 90% of 200 draws
    assert simulated(gap=0.3)["PROBLEM"] >= 0.9  # present, and the gap is not closing
    assert simulated(gap=-0.3)["ok"] >= 0.9  # reversed: did not hold
    assert simulated(gap=0.0, sd=0.01)["ok"] >= 0.9  # inside the minimum effect: did not hold


def test_a_gap_that_closes_is_slower_to_train_and_one_that_stays_is_degradation():
    closing = twin_runs([0.5, 0.55, 0.6], [0.2, 0.2, 0.25], deep_mid=[1.2, 1.3, 1.2])
    v = deg.verdict(closing, PLAN, None)
    assert v.status == "note" and v.message.startswith("slower to train, not degradation")
    # shrank by 20% of itself: under CLOSING (25%), so the gap stands
    staying = twin_runs([0.5, 0.55, 0.6], [0.2, 0.2, 0.25], deep_mid=[0.575, 0.64, 0.7])
    assert deg.verdict(staying, PLAN, None).status == "PROBLEM"
    assert simulated(gap=0.3, gap_mid=0.6)["note"] == 1.0  # halved over the last half: never a problem


def test_degradation_is_not_judged_before_the_shallower_twin_settles():
    # the shallower twin still gains 0.2 nats (> MIN_LOSS_GAP) over the last half: too early either way
    for gap in (0.3, -0.3, 0.0):
        assert simulated(gap=gap, gap_mid=gap, shallow_gain=0.2)["note"] == 1.0
    runs = twin_runs([0.9], [0.2], shallow_mid=[0.5])
    assert "a budget of 200 steps would settle it" in deg.verdict(runs, PLAN, None).message


def test_degradation_comparison_is_the_stats_layer():
    assert deg.COMPARISON.min_effect == deg.MIN_LOSS_GAP and deg.COMPARISON.method == "t"
    runs = twin_runs([0.9, 0.8, 0.85], [0.2, 0.25, 0.3])
    expected = stats.paired_t([0.7, 0.55, 0.55])
    text = deg.verdict(runs, PLAN, None).message
    assert f"{expected.low:+.3f}" in text and f"{expected.high:+.3f}" in text


# --- the table checks and diagnose(w) ---


def rows_for(act_grads, step=0, update=0.001, dead=math.nan, weight=1.0, grad=1.0):
    return [
        {
            "step": step,
            "layer": i,
            "depth": i + 1,
            "name": f"l{i}",
            "grad_norm": grad,
            "weight_norm": weight,
            "update_ratio": update,
            "act_grad_rms": g,
            "dead_frac": dead,
            "saturated_frac": math.nan,
            "out_std": 1.0,
        }
        for i, g in enumerate(act_grads)
    ]


def test_flow_ratio_is_first_over_last_hidden_layer_at_init_and_median():
    # hidden layers l0..l2, head l3 (excluded): first/last = 1e-3 / 1 at step 0, 1 afterwards
    rows = rows_for([1e-3, 0.5, 1.0, 7.0]) + rows_for([1.0, 1.0, 1.0, 9.0], step=10)
    rows += rows_for([2.0, 1.0, 1.0, 9.0], step=20)
    v = by_check(verdicts(rows))["vanishing gradients"]
    assert v.status == "PROBLEM" and "is 0.001 at step 0 and 1 (median over 3 recorded steps)" in v.message
    healthy = rows_for([0.5, 1.0, 1.0, 7.0])
    assert by_check(verdicts(healthy))["vanishing gradients"].status == "ok"
    at_threshold = rows_for([THRESHOLDS["vanishing_ratio"], 1.0, 1.0, 1.0])
    assert by_check(verdicts(at_threshold))["vanishing gradients"].status == "ok"  # flagged *below*


def swinging(first: float, later: float, steps: int = 4, **kw) -> list[dict]:
    """first/last hidden ratio ``first`` at step 0, then ``later`` at every recorded step after it."""
    rows = rows_for([first, 1.0, 1.0, 1.0], **kw)
    return rows + [
        r for s in range(1, steps + 1) for r in rows_for([later, 1.0, 1.0, 1.0], step=10 * s, **kw)
    ]


def test_a_flow_that_swings_gives_one_problem_line_on_the_side_seen_first():
    # tanh depth 20, default init, MNIST-1D: 2.8e-5 at init, then swinging between 2e-5 and 93 under Adam
    found = by_check(verdicts(swinging(3e-5, 300.0)))
    vanish, explode = found["vanishing gradients"], found["exploding gradients"]
    assert [v.status for v in (vanish, explode)] == ["PROBLEM", "note"]
    assert "swings from vanishing as initialized to exploding later; fix the vanishing gradients first" in (
        vanish.message
    )
    assert "judged under vanishing gradients" in explode.message
    found = by_check(verdicts(swinging(500.0, 1e-4)))  # the reverse swing: exploding is the one to fix
    assert [found[c].status for c in ("vanishing gradients", "exploding gradients")] == ["note", "PROBLEM"]
    assert "fix the exploding gradients first" in found["exploding gradients"].message
    # both checks read the same two numbers: a vanished start with a median inside the band is no swing
    found = by_check(verdicts(swinging(3e-5, 50.0)))
    assert [found[c].status for c in ("vanishing gradients", "exploding gradients")] == ["PROBLEM", "ok"]
    # a step that rewrites a layer is still its own problem during a swing
    v = by_check(verdicts(swinging(3e-5, 300.0, update=0.8), config={"lr": 0.1}))["exploding gradients"]
    assert v.status == "PROBLEM" and v.remedy == {"lr": 0.01}


def test_a_ratio_that_underflowed_to_zero_is_said_to_be_an_underflow():
    # sigmoid depth 30: dLoss/dh at the first hidden layer is exactly 0 in float32
    v = by_check(verdicts(swinging(0.0, 0.0)))["vanishing gradients"]
    assert v.status == "PROBLEM"
    underflow = "is 0 (dLoss/dh there underflowed to 0: below float32's smallest normal number, 1.2e-38)"
    assert f"{underflow} at step 0" in v.message
    assert "and 0 (underflowed) (median over 5 recorded steps)" in v.message
    assert "underflowed" not in by_check(verdicts(swinging(1e-3, 0.5)))["vanishing gradients"].message


def test_exploding_by_gradient_growth_step_size_or_infinity():
    grows = rows_for([300.0, 10.0, 1.0, 1.0])
    assert by_check(verdicts(grows))["exploding gradients"].status == "PROBLEM"
    big_step = rows_for([1.0, 1.0, 1.0, 1.0], update=0.8)
    v = by_check(verdicts(big_step, config={"lr": 0.1}))["exploding gradients"]
    assert v.status == "PROBLEM" and v.remedy == {"lr": 0.01} and "by 0.8 of its norm" in v.message
    zero_weight = rows_for([1.0, 1.0, 1.0, 1.0], update=math.inf, weight=0.0)  # a zero-initialized layer
    assert by_check(verdicts(zero_weight))["exploding gradients"].status == "ok"
    infinite = rows_for([1.0, 1.0, 1.0, 1.0], grad=math.inf)
    assert by_check(verdicts(infinite))["exploding gradients"].status == "PROBLEM"


def test_units_at_the_last_step_and_divergence_from_the_weights():
    rows = rows_for([1.0] * 4, dead=0.9) + rows_for([1.0] * 4, step=10, dead=0.1)
    assert by_check(verdicts(rows))["dead units"].status == "ok"
    assert by_check(verdicts(rows_for([1.0] * 4, dead=0.9)))["dead units"].status == "PROBLEM"
    nan_weights = rows_for([1.0] * 4) + rows_for([1.0] * 4, step=10, weight=math.nan)
    v = by_check(verdicts(nan_weights))["divergence"]
    assert v.status == "PROBLEM" and "step 10" in v.message
    v = by_check(verdicts(rows_for([1.0] * 4), status="diverged", diverged_step=42))["divergence"]
    assert v.status == "PROBLEM" and "step 42" in v.message


def test_recorded_steps_reads_the_first_and_the_recent_steps_only():
    rows = [r for s in range(200) for r in rows_for([1.0, 1.0, 1.0], step=s)]
    steps = recorded_steps(rows)
    assert [s[0]["step"] for s in steps] == [0, *range(200 - RECENT_STEPS, 200)]
    assert all(len(s) == 3 for s in steps)


def sigmoid_net(depth=12, width=32):
    layers = [nn.Flatten(), nn.Linear(40, width), nn.Sigmoid()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def test_diagnose_a_users_own_loop_live_and_when_done(mnist1d):
    torch.manual_seed(0)
    model = sigmoid_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = mnist1d.x_train[:128], mnist1d.y_train[:128]
    with watch(model, every=2, optimizer=opt) as w:
        with warnings.catch_warnings():  # before the first step: nothing recorded, and nothing wrong
            warnings.simplefilter("error", RuntimeWarning)
            assert {v.status for v in diagnose(w)} == {"note"}
        for step in range(6):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            if step == 2:  # a watch still recording: a pending step, partial records
                live = by_check(diagnose(w))
                assert live["vanishing gradients"].status == "PROBLEM"
            opt.step()
    v = by_check(diagnose(w))["vanishing gradients"]
    assert v.status == "PROBLEM" and v.remedy == {} and "try a ReLU-family activation" in v.message
    config = {"activation": "sigmoid", "init": "default", "norm": "none", "residual": False}
    assert by_check(diagnose(w, config))["vanishing gradients"].remedy == {
        "activation": "relu",
        "init": "he_normal",
    }
    with pytest.raises(DepthlabError, match="Watch"):
        diagnose(w.rows)


def test_a_live_watch_read_before_its_first_step_does_not_warn_and_a_missed_step_still_does(mnist1d):
    model = sigmoid_net(depth=4)
    x, y = mnist1d.x_train[:32], mnist1d.y_train[:32]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def one_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        live = Watch(model)  # as the play page holds it: fit's callbacks end the steps
        live.on_train_start(None)
        assert {v.status for v in diagnose(live)} == {"note"}
        one_step()
        live.on_backward(None)
        opt.step()
        live.on_step(None)
        live.on_train_end(None)
        assert {r["step"] for r in live.rows} == {0}
        with watch(model) as w:  # a plain loop read before its first step
            assert w.rows == []
            one_step()
            opt.step()
        assert {r["step"] for r in w.rows} == {0}
    with pytest.warns(RuntimeWarning, match="watch recorded nothing"):  # updates by hand: steps run unseen
        with watch(model) as w:
            one_step()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
            assert {v.status for v in diagnose(w)} == {"note"}


def test_act_grad_rms_is_autograds_dloss_dh():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(inplace=True), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    expected = autograd_dloss_dh_rms(model, ["0", "2", "4"], x, y)
    w = one_watched_step(model, x, y)
    assert [r["act_grad_rms"] for r in w.rows] == pytest.approx(expected, rel=1e-5)


def test_bad_input(mnist1d):
    with pytest.raises(DepthlabError, match="vanishing_ratio"):
        verdicts(rows_for([1.0]), thresholds={"vanishing": 0.1})
    with pytest.raises(DepthlabError, match="mlpp"):
        doctor("mlpp", mnist1d, steps=1)
    with pytest.raises(DepthlabError, match="widht"):
        doctor("mlp", mnist1d, steps=1, widht=3)
    with pytest.raises(DepthlabError, match="seeds=0"):
        doctor("mlp", mnist1d, steps=1, seeds=0)


def test_any_module_can_see_the_doctor(mnist1d):
    report = doctor(sigmoid_net(depth=10), mnist1d, steps=4, every=2, lr=1e-3)
    v = by_check(report)["vanishing gradients"]
    assert report.model == "Sequential" and v.status == "PROBLEM" and v.remedy == {}
    assert report.twin is None and "degradation" not in by_check(report)  # no config to halve
