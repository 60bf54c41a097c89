"""Training to a plateau: a loss that keeps falling runs its budget, a flat one stops after two windows, the
budget running out says so, and a resumed run keeps its curve and its plateau window."""

import dataclasses
import json

import pytest
import torch
from torch import nn

from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError
from depthlab.train import Callback, History, fit
from depthlab.train.plateau import Plateau, relative_improvement, settled_step
from test_checkpoint import Crash, CrashAt, dropout_bn_mlp
from test_engine import QUIET, FrozenMLP, blobs


def line_data(n=64) -> Dataset:
    """y = 3x on one feature, no noise: plain gradient descent on a bias-free linear model shrinks the
    error by the same factor every full-batch step, so the loss falls geometrically forever."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, generator=g)
    return Dataset("line", x, 3 * x, x, 3 * x, x, 3 * x, num_classes=1, task="regression")


def geometric_run(**overrides) -> History:
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    config = dict(steps=300, batch_size=64, optimizer="sgd", momentum=0.0, lr=0.003, sync_every=10, **QUIET)
    return fit(model, line_data(), **{**config, **overrides})


def test_relative_improvement_is_the_hand_formula():
    assert relative_improvement(2.0, 1.5) == pytest.approx(0.25)
    assert relative_improvement(1.0, 1.2) == pytest.approx(-0.2)  # a rise is a negative improvement
    assert relative_improvement(0.0, 0.0) == 0.0


def test_plateau_compares_the_last_window_with_the_one_before():
    plateau = Plateau(window=3, tol=0.1)
    plateau.add([10, 10, 10, 9.5, 9.5])
    assert not plateau.reached()  # five steps: two windows are not full yet
    plateau.add([9.5])  # means 10 vs 9.5: 5% better, under 10%
    assert plateau.reached()
    plateau.add([5, 5, 5])  # now 9.5 vs 5: 47% better
    assert not plateau.reached()


def test_a_loss_that_keeps_falling_never_stops_early():
    # the oracle: per-step factor q = (1 - 2 lr mean(x^2))^2, so every window of 20 steps improves on the
    # one before by 1 - q^20, far above the tolerance, until the budget
    run = geometric_run(plateau_window=20, plateau_tol=0.01)
    x = line_data().x_train
    q = (1 - 2 * 0.003 * (x**2).mean().item()) ** 2
    assert 1 - q**20 > 0.05
    assert run.steps == 300 and run.converged is False
    losses = [loss for _, loss in run.curve]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] / losses[-2] == pytest.approx(
        q, rel=1e-4
    )  # one full-batch step an epoch: a read a step


def one_example(n=64) -> Dataset:
    """``n`` copies of one example: every epoch's order gives the same batch, so a frozen model's full-batch
    loss is exactly constant (a sum of different values in another order can change in its last bit)."""
    data = blobs(n_train=n)
    x, y = data.x_train[:1].repeat(n, 1), data.y_train[:1].repeat(n)
    return dataclasses.replace(data, x_train=x, y_train=y)


def test_a_flat_loss_stops_after_two_windows_and_says_converged():
    # FrozenMLP's function never changes and the loss is exactly constant, so the first loss read with two
    # full windows behind it ends the run (one step an epoch: the epoch end reads every step)
    data = one_example()
    run = fit(FrozenMLP(), data, epochs=500, batch_size=64, sync_every=10, plateau_window=30, **QUIET)
    assert run.converged is True and run.steps == 60
    assert run.records[-1]["step"] == 60  # the stopping step is recorded like an epoch end


def test_a_flat_noisy_loss_stops_within_about_two_windows():
    # minibatches of a frozen model: the loss is flat in expectation but varies from batch to batch
    data = blobs(n_train=512)
    run = fit(FrozenMLP(), data, epochs=200, batch_size=32, plateau_window=100, **QUIET)
    assert run.converged is True and 200 <= run.steps <= 300


def test_budget_exhausted_says_not_converged_and_plateau_off_says_none():
    data = blobs(n_train=64)
    short = fit(FrozenMLP(), data, steps=50, batch_size=64, sync_every=10, plateau_window=30, **QUIET)
    assert short.steps == 50 and short.converged is False  # 50 < two windows of 30
    off = fit(FrozenMLP(), data, steps=50, batch_size=64, sync_every=10, **QUIET)
    assert off.converged is None and off.steps == 50


class StepLosses(Callback):
    """Records every step's batch loss, read on the host (what the curve must summarize)."""

    def __init__(self):
        self.seen = []

    def on_step(self, state):
        self.seen.append(state.loss.item())


def test_curve_is_the_mean_loss_of_each_read_window():
    rec = StepLosses()
    run = fit(
        dropout_bn_mlp(), blobs(n_train=100), epochs=3, batch_size=20, sync_every=3, callbacks=[rec], **QUIET
    )
    # five steps an epoch: reads every third step and at each epoch end
    assert [step for step, _ in run.curve] == [3, 5, 6, 9, 10, 12, 15]
    bounds = [0, 3, 5, 6, 9, 10, 12, 15]
    expected = [sum(rec.seen[a:b]) / (b - a) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert [loss for _, loss in run.curve] == pytest.approx(expected, rel=1e-6)


def test_curve_and_converged_survive_to_dict_and_json():
    run = geometric_run(steps=40, plateau_window=10)
    data = json.loads(json.dumps(run.to_dict(), allow_nan=False))
    assert data["converged"] is False and len(data["curve"]) == 40  # one full-batch step, one read an epoch
    back = History.from_dict(data)
    assert back.curve == run.curve and back.converged is False


def test_a_resumed_run_keeps_the_curve_and_stops_where_an_uninterrupted_one_does(tmp_path):
    data = blobs(n_train=500)  # 10 steps an epoch
    config = dict(
        epochs=40, batch_size=50, lr=0.01, sync_every=5, plateau_window=15, plateau_tol=0.05, **QUIET
    )
    reference = fit(dropout_bn_mlp(), data, **config)
    assert reference.converged is True and 30 < reference.steps < 400
    crash = reference.steps - 7  # inside the last epoch: the window before it spans the checkpoint
    with pytest.raises(Crash):
        fit(dropout_bn_mlp(), data, checkpoint_dir=str(tmp_path), callbacks=[CrashAt(crash)], **config)
    resumed = fit(dropout_bn_mlp(seed=7), data, checkpoint_dir=str(tmp_path), resume=True, **config)
    assert resumed.converged is True and resumed.steps == reference.steps
    assert resumed.curve == reference.curve


def test_resuming_a_converged_run_trains_no_further(tmp_path):
    data = one_example()
    config = dict(epochs=500, batch_size=64, sync_every=10, plateau_window=30, **QUIET)
    first = fit(FrozenMLP(), data, checkpoint_dir=str(tmp_path), **config)
    again = fit(FrozenMLP(), data, checkpoint_dir=str(tmp_path), resume=True, **config)
    assert (first.steps, again.steps, again.converged) == (60, 60, True)
    assert again.curve == first.curve


@pytest.mark.parametrize(
    "overrides, word", [({"plateau_window": 0}, "plateau_window"), ({"plateau_tol": 1.5}, "plateau_tol")]
)
def test_bad_plateau_settings_name_the_value(overrides, word):
    with pytest.raises(DepthlabError, match=word):
        fit(FrozenMLP(), blobs(n_train=64), **overrides, **QUIET)


# --- the rule a loss spike cannot fool ----------------------------------------------------------------------


def test_a_window_with_one_spike_is_not_a_plateau_and_a_flat_one_is():
    flat = Plateau(window=4, tol=0.01)
    flat.add([1.0] * 8)
    assert flat.reached()
    spiked = Plateau(window=4, tol=0.01)
    spiked.add([1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0])  # the later window's mean rose by half
    assert not spiked.reached()


def test_a_rising_loss_never_counts_as_converged():
    rising = Plateau(window=4, tol=0.5)
    rising.add([1.0, 1.0, 1.0, 1.0, 1.001, 1.001, 1.001, 1.001])  # rose by 0.1%: well inside the tolerance
    assert not rising.reached()
    # SGD past its stable rate on the line: the error is multiplied by -1.1 each step, the loss grows by 21%
    m = (line_data().x_train ** 2).mean().item()
    run = geometric_run(lr=1.05 / m, steps=60, plateau_window=20, plateau_tol=0.5)
    losses = [loss for _, loss in run.curve]
    assert all(b > a for a, b in zip(losses, losses[1:], strict=False))
    assert run.status == "ok" and run.converged is False and run.steps == 60


def test_the_run_does_not_stop_while_its_latest_read_is_spiking():
    plateau = Plateau(window=6, tol=0.05)
    plateau.add([1.0] * 6)
    plateau.add([0.99] * 4)
    plateau.add([1.01, 1.01])  # the windows are flat (1.0 vs 0.997) and the latest read sits on them
    assert plateau.reached()
    assert not plateau_on([1.0] * 10 + [1.2, 1.2], window=6, tol=0.05, latest=2)  # means 1.0 vs 1.067


def plateau_on(losses, window, tol, latest):
    plateau = Plateau(window=window, tol=tol)
    plateau.add(losses[:-latest])
    plateau.add(losses[-latest:])
    return plateau.reached()


def test_windows_weigh_each_step_by_its_batch_size():
    # the later window ends on a 16-example step at 3.0 beside 128-example steps at 1.0: weighted, its mean is
    # 1.08, a 1.8% improvement on 1.1 (a plateau); counted alike, 1.5, a rise (no plateau)
    plateau = Plateau(window=4, tol=0.05)
    plateau.add([1.1] * 4, [128] * 4)
    plateau.add([1.0, 1.0, 1.0, 3.0], [128, 128, 128, 16])
    after = (3 * 128 * 1.0 + 16 * 3.0) / (3 * 128 + 16)
    assert after == pytest.approx(1.08) and 0 < relative_improvement(1.1, after) < 0.05
    assert plateau.reached()
    unweighted = Plateau(window=4, tol=0.05)
    unweighted.add([1.1] * 4 + [1.0, 1.0, 1.0, 3.0])
    assert not unweighted.reached()


def test_the_curve_weighs_the_partial_last_batch_by_its_size():
    rec = StepLosses()
    run = fit(
        dropout_bn_mlp(), blobs(n_train=84), epochs=1, batch_size=32, sync_every=10, callbacks=[rec], **QUIET
    )
    sizes = [32, 32, 20]  # 84 = 32 + 32 + 20
    assert run.curve[0][1] == pytest.approx(sum(v * n for v, n in zip(rec.seen, sizes, strict=True)) / 84)


def test_settled_is_the_plateau_step_or_fitting_the_training_set():
    assert settled_step({"plateau_step": 400, "records": []}) == 400
    fits = {"records": [{"step": 200, "trainset_acc": 0.98}, {"step": 400, "trainset_acc": 0.9995}]}
    assert settled_step(fits) == 400
    assert settled_step({"records": [{"step": 200, "train_acc": 0.5}], "final": {"train_acc": 0.6}}) is None
    assert settled_step({"steps": 900, "records": [], "final": {"train_acc": 1.0}}) == 900
