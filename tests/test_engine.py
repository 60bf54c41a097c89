"""The training engine against oracles: determinism, divergence, hand formulas for schedules and losses."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.config import build
from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError
from depthlab.seeds import Stream, generator
from depthlab.train import Callback, TrainConfig, evaluate, fit, runtime
from depthlab.train.ema import ModelEma
from depthlab.train.evaluate import task_loss
from depthlab.train.optim import build_optimizer, build_scheduler, lr_factor, param_groups


def blobs(n_train=512, n_eval=128, features=10, classes=3, seed=0) -> Dataset:
    """A linearly separable toy problem: labels are the argmax of a fixed random projection."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(features, classes, generator=g)
    splits = []
    for n in (n_train, n_eval, n_eval):
        x = torch.randn(n, features, generator=g)
        splits += [x, (x @ w).argmax(1)]
    return Dataset("blobs", *splits, num_classes=classes)


def small_mlp(features=10, classes=3, seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 32), nn.ReLU(), nn.Linear(32, classes))


QUIET = dict(quiet=True, device="cpu")


def without_time(records):
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def test_same_seed_same_numbers_and_a_different_seed_differs():
    data = blobs()
    runs = [fit(small_mlp(), data, epochs=2, batch_size=64, seed=s, **QUIET) for s in (1, 1, 2)]
    assert without_time(runs[0].records) == without_time(runs[1].records)
    assert runs[0].final == runs[1].final
    assert runs[0].final != runs[2].final


def test_learns_a_separable_problem_and_reports_history():
    history = fit(small_mlp(), blobs(), epochs=10, batch_size=32, lr=1e-2, **QUIET)
    assert history.status == "ok"
    assert history.final["test_acc"] > 0.9
    assert history.steps == 10 * math.ceil(512 / 32)
    assert [r["epoch"] for r in history.records] == list(range(1, 11))
    assert history.records[-1]["train_loss"] < history.records[0]["train_loss"]
    assert set(history.final) == {f"{s}_{m}" for s in ("train", "val", "test") for m in ("loss", "acc")}


class FrozenMLP(nn.Module):
    """``small_mlp`` with frozen weights, plus one trainable parameter without effect (its gradient is 0):
    training leaves the function unchanged, so the epoch's train metrics have a closed form."""

    def __init__(self):
        super().__init__()
        self.net = small_mlp().requires_grad_(False)
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.net(x) + 0 * self.unused


def test_epoch_train_metrics_equal_the_whole_training_set_metrics_of_an_unchanged_model():
    data = blobs(n_train=103)  # batches of 16: six full ones and a last one of 7
    model = FrozenMLP()
    history = fit(model, data, epochs=2, batch_size=16, sync_every=4, **QUIET)
    with torch.no_grad():
        out = model(data.x_train)
    loss = F.cross_entropy(out, data.y_train).item()
    acc = (out.argmax(1) == data.y_train).sum().item() / len(data.y_train)
    for record in history.records:  # each 7-step epoch is summed in two windows: 4 steps, then 3
        assert record["train_loss"] == pytest.approx(loss, rel=1e-5)
        assert record["train_acc"] == pytest.approx(acc, abs=1e-9)


def test_steps_overrides_epochs():
    history = fit(small_mlp(), blobs(), epochs=50, steps=5, batch_size=64, **QUIET)
    assert history.steps == 5 and history.records[-1]["step"] == 5


def test_huge_lr_diverges_cleanly_with_the_step():
    history = fit(small_mlp(), blobs(), epochs=3, optimizer="sgd", lr=1e6, momentum=0.0, **QUIET)
    assert history.status == "diverged"
    assert history.diverged_step is not None and history.diverged_step >= 1
    assert history.to_dict()["status"] == "diverged"


def test_nan_in_data_is_caught_at_its_step():
    data = blobs(n_train=64)
    data.x_train[5, 0] = float("nan")
    # batch_size 64 = the whole set: step 1 sees the NaN
    history = fit(small_mlp(), data, epochs=3, batch_size=64, **QUIET)
    assert (history.status, history.diverged_step, history.steps) == ("diverged", 1, 1)
    import json

    json.dumps(history.to_dict(), allow_nan=False)  # JSON-safe even with NaN metrics


def test_step_losses_match_a_hand_written_loop():
    """Oracle: plain PyTorch SGD over the same permutation gives the same weights."""
    data = blobs(n_train=96)
    model, ref = small_mlp(), small_mlp()
    fit(model, data, epochs=1, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.0, **QUIET)
    order = torch.randperm(96, generator=generator(0, Stream.EPOCH_ORDER, 0))
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    for i in range(3):
        idx = order[i * 32 : (i + 1) * 32]
        opt.zero_grad()
        F.cross_entropy(ref(data.x_train[idx]), data.y_train[idx]).backward()
        opt.step()
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_weight_decay_skips_norm_weights_and_biases():
    model = nn.Sequential(
        nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(8, 2), nn.LayerNorm(2)
    )
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(no_decay["params"]) == 6  # conv bias, BN weight+bias, linear bias, LN weight+bias


def test_sgd_weight_decay_only_moves_matrices_when_gradients_are_zero():
    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    config = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=0.5)
    opt = build_optimizer(model, config)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    torch.testing.assert_close(model.weight, before[0] * (1 - 0.1 * 0.5))
    torch.testing.assert_close(model.bias, before[1])


@pytest.mark.parametrize(
    "overrides, step, expected",
    [
        ({"schedule": "step", "step_size": 10, "gamma": 0.5}, 25, 0.25),
        ({"schedule": "multistep", "milestones": "32000,48000"}, 31999, 1.0),
        ({"schedule": "multistep", "milestones": "32000,48000"}, 32000, 0.1),
        ({"schedule": "multistep", "milestones": "32000,48000"}, 50000, 0.01),
        ({"schedule": "cosine"}, 50, 0.5),
        ({"schedule": "cosine", "min_lr": 0.01, "lr": 0.1}, 100, 0.1),
        ({"schedule": "cosine", "warmup": 10}, 4, 0.5),
        ({"schedule": "cosine", "warmup": 10}, 55, 0.5),
        ({"warmup": 400, "warmup_mode": "constant", "warmup_factor": 0.1}, 399, 0.1),
        ({"warmup": 400, "warmup_mode": "constant", "warmup_factor": 0.1}, 400, 1.0),
    ],
)
def test_lr_factor_matches_the_hand_formula(overrides, step, expected):
    config = build(TrainConfig, overrides)
    assert lr_factor(step, 100, config) == pytest.approx(expected)


def test_scheduler_applies_the_factor_per_step():
    model = nn.Linear(2, 2)
    config = TrainConfig(optimizer="sgd", lr=0.2, schedule="cosine")
    opt = build_optimizer(model, config)
    sched = build_scheduler(opt, 10, config)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.2 * 0.5 * (1 + math.cos(math.pi * s / 10)) for s in range(10)])


def test_label_smoothing_matches_the_hand_formula():
    logits, y, eps = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0]), 0.1
    logp = logits.log_softmax(1)
    target = torch.full_like(logp, eps / 5).scatter_(1, y[:, None], 1 - eps + eps / 5)
    expected = -(target * logp).sum(1).mean()
    torch.testing.assert_close(task_loss(logits, y, "classification", eps), expected)


def test_evaluate_matches_direct_computation():
    data, model = blobs(), small_mlp()
    result = evaluate(model, data.x_test, data.y_test, batch_size=7)
    out = model(data.x_test)
    assert result["loss"] == pytest.approx(F.cross_entropy(out, data.y_test).item(), rel=1e-5)
    assert result["acc"] == pytest.approx((out.argmax(1) == data.y_test).float().mean().item())


def test_regression_reports_mse():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=g)
    y = x @ torch.randn(4, 1, generator=g)
    data = Dataset("lin", x, y, x[:64], y[:64], x[:64], y[:64], num_classes=1, task="regression")
    model = nn.Linear(4, 1)
    history = fit(model, data, epochs=30, batch_size=32, lr=0.05, **QUIET)
    assert "test_acc" not in history.final
    assert history.final["test_loss"] == pytest.approx(F.mse_loss(model(x[:64]), y[:64]).item(), rel=1e-5)
    assert history.final["test_loss"] < 1e-3


class Recorder(Callback):
    def __init__(self):
        self.events, self.grad_seen = [], []

    def on_train_start(self, state):
        self.events.append("start")

    def on_backward(self, state):
        self.grad_seen.append(all(p.grad is not None for p in state.model.parameters()))
        self.events.append("backward")

    def on_step(self, state):
        self.events.append(f"step{state.step}")

    def on_epoch(self, state):
        self.events.append(f"epoch{state.epoch}")

    def on_train_end(self, state):
        self.events.append("end")


def test_callbacks_fire_in_order_and_see_gradients_before_the_step():
    rec = Recorder()
    fit(small_mlp(), blobs(n_train=64), epochs=2, batch_size=32, callbacks=[rec], **QUIET)
    assert rec.events == [
        "start",
        "backward",
        "step1",
        "backward",
        "step2",
        "epoch1",
        "backward",
        "step3",
        "backward",
        "step4",
        "epoch2",
        "end",
    ]
    assert all(rec.grad_seen)


def test_callbacks_never_change_results():
    data = blobs()
    plain = fit(small_mlp(), data, epochs=2, **QUIET)
    watched = fit(small_mlp(), data, epochs=2, callbacks=[Recorder()], **QUIET)
    assert plain.final == watched.final


def test_ema_follows_the_timm_formula():
    model = nn.Linear(3, 2)
    ema = ModelEma(model, decay=0.9)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, 0.9 * start + 0.1 * (start + 1.0))


class WeightLog(Callback):
    """The model's weights at the start and after every step, and the EMA weights the engine ends with."""

    def __init__(self):
        self.weights: list[dict[str, torch.Tensor]] = []
        self.ema: dict[str, torch.Tensor] = {}

    def _keep(self, state):
        self.weights.append({k: v.detach().clone() for k, v in state.model.state_dict().items()})

    on_train_start = on_step = _keep

    def on_train_end(self, state):
        self.ema = {k: v.detach().clone() for k, v in state.ema.state_dict().items()}


def test_ema_weights_are_the_hand_computed_average_and_are_the_ones_evaluated():
    data, decay, log = blobs(), 0.8, WeightLog()  # not 0.5: a swapped decay and 1 - decay must show
    history = fit(small_mlp(), data, epochs=2, ema_decay=decay, callbacks=[log], **QUIET)
    assert len(log.weights) == history.steps + 1  # the start, then every step
    by_hand = log.weights[0]
    for weights in log.weights[1:]:
        by_hand = {k: decay * by_hand[k] + (1 - decay) * weights[k] for k in weights}
    for key, value in by_hand.items():
        torch.testing.assert_close(log.ema[key], value)
    assert not torch.allclose(log.ema["2.weight"], log.weights[-1]["2.weight"])  # it trails the model
    averaged = small_mlp()
    averaged.load_state_dict(by_hand)
    assert history.final["ema_val_acc"] == evaluate(averaged, data.x_val, data.y_val)["acc"]
    assert history.records[-1]["ema_val_acc"] == history.final["ema_val_acc"]  # the last epoch's record


def test_gpu_only_options_are_noted_on_cpu_and_not_on_cuda():
    fancy = fit(small_mlp(), blobs(), epochs=1, amp="bf16", compile=True, **QUIET)
    assert fancy.notes == [
        "amp=bf16 ignored on cpu (fp32 is faster here)",
        "compile=true ignored on cpu (compile time outweighs the gain for small models)",
    ]
    config = TrainConfig(amp="bf16", compile=True)
    assert runtime.gpu_only_notes(config, torch.device("cuda", 0)) == []
    assert runtime.gpu_only_notes(TrainConfig(), torch.device("cpu")) == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_and_compile_on_cuda_train_like_fp32():
    # on a GPU the options do change the numerics (bf16 rounds to 8 bits of mantissa): close, not equal
    data = blobs()
    plain = fit(small_mlp(), data, epochs=10, batch_size=32, lr=1e-2, quiet=True, device="cuda")
    fancy = fit(
        small_mlp(),
        data,
        epochs=10,
        batch_size=32,
        lr=1e-2,
        quiet=True,
        device="cuda",
        amp="bf16",
        compile=True,
    )
    assert fancy.notes == [] and fancy.status == "ok"
    assert fancy.final["test_acc"] == pytest.approx(plain.final["test_acc"], abs=0.05)
    assert fancy.final["train_loss"] != plain.final["train_loss"]


@pytest.mark.parametrize(
    "overrides, word",
    [
        ({"optimizer": "sgdd"}, "sgd"),
        ({"lr": -1}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"bogus": 1}, "bogus"),
        ({"schedule": "cosin"}, "cosine"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
    ],
)
def test_bad_config_raises_naming_the_value(overrides, word):
    with pytest.raises(DepthlabError, match=word):
        fit(small_mlp(), blobs(), **overrides, **QUIET)


def test_grad_checkpointing_needs_model_support():
    with pytest.raises(DepthlabError, match="grad_checkpointing"):
        fit(small_mlp(), blobs(), grad_checkpointing=True, **QUIET)


def test_grad_checkpointing_gives_the_same_training():
    from depthlab.models import create_model

    def run(enabled):
        torch.manual_seed(0)
        model = create_model("mlp", depth=4, width=16, input_shape=(10,), num_classes=3)
        return fit(model, blobs(), epochs=2, grad_checkpointing=enabled, **QUIET).final

    torch.testing.assert_close(run(True), run(False))


def tiny_images(n=64, seed=0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, 2, (n,), generator=g)
    return Dataset("tiny", x, y, x[:16], y[:16], x[:16], y[:16], num_classes=2)


def tiny_convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))


def test_augmentation_is_seeded_and_changes_what_the_model_sees():
    data = tiny_images()
    runs = [
        fit(tiny_convnet(), data, epochs=2, batch_size=16, augment=a, **QUIET).final
        for a in ("crop_flip", "crop_flip", "none")
    ]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_augmenting_non_images_is_an_error_naming_the_valid_choice():
    with pytest.raises(DepthlabError, match="augment='crop_flip'.*none"):
        fit(small_mlp(), blobs(), augment="crop_flip", **QUIET)
    with pytest.raises(DepthlabError, match="did you mean 'crop_flip'"):
        fit(tiny_convnet(), tiny_images(), augment="crop_flp", **QUIET)


def test_a_seed_too_large_for_the_random_streams_is_one_clear_error():
    with pytest.raises(
        DepthlabError, match=r"seed=100000000000000000000: too large .* \(valid: -\d+ to \d+\)"
    ):
        fit(FrozenMLP(), blobs(n_train=64), seed=10**20, **QUIET)
