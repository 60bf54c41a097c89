"""measure: params and FLOPs against hand formulas, labels, memory methods, the time budget."""

import sys

import pytest
import torch
from torch import nn

from depthlab.cli import main
from depthlab.diagnose import count_flops, count_params, measure
from depthlab.diagnose.timing import Timing
from depthlab.errors import DepthlabError


def test_conv_and_linear_flops_equal_the_hand_formula():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    x = torch.randn(2, 3, 10, 12)
    # 2 FLOPs per multiply-add: 2 * N * Cout * Hout * Wout * Cin * k * k
    assert count_flops(conv, x) == 2 * 2 * 8 * 10 * 12 * 3 * 3 * 3
    linear = nn.Linear(20, 7)
    assert count_flops(linear, torch.randn(5, 20)) == 2 * 5 * 20 * 7
    # backward of a linear: grad wrt input and wrt weight, one matmul each
    assert count_flops(linear, torch.randn(5, 20).requires_grad_(), backward=True) == 3 * 2 * 5 * 20 * 7


def test_params_trainable_and_shared_count_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    model[3].requires_grad_(False)
    assert count_params(model) == (20 + 10, 20)


def test_measure_report_fields_and_values():
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 10))
    report = measure(model, (1, 40), batch_size=8, time_budget=0.05)
    assert report["params"] == 40 * 16 + 16 + 16 * 10 + 10
    assert report["param_count"] == pytest.approx(report["params"] / 1e6)
    assert report["flops"] == 2 * (40 * 16 + 16 * 10)  # per sample
    assert report["infer_gmacs"] == pytest.approx(report["flops"] / 2e9)
    assert report["longest_path_depth"] == 2 and report["weight_layers"] == 2
    assert (report["device"], report["dtype"], report["batch_size"], report["form"]) == (
        "cpu",
        "float32",
        8,
        "train",
    )
    assert report["infer_samples_per_sec"] == pytest.approx(8e3 / report["infer_step_time"])
    # CPU memory: params + the largest leaf input+output (8x40 in, 8x16 out) in float32
    params_bytes = report["params"] * 4
    assert report["infer_peak_memory_mb"] * 2**20 == pytest.approx(params_bytes + 4 * 8 * (40 + 16))
    # training: params + grads + what autograd saves (the input, the ReLU output; weights are params) + output
    train_bytes = 2 * params_bytes + 4 * 8 * (40 + 16 + 10)
    assert report["train_peak_memory_mb"] * 2**20 == pytest.approx(train_bytes)
    assert report["memory_method"] == "tensor_sizes"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_measure_on_cuda_uses_the_allocator():
    report = measure(nn.Linear(64, 64), (64,), batch_size=32, device="cuda", time_budget=0.05)
    assert (
        report["memory_method"] == "cuda_allocator" and report["infer_peak_memory_mb"] > 64 * 64 * 4 / 2**20
    )


def test_measure_bad_input():
    model = nn.Linear(4, 2)
    with pytest.raises(DepthlabError, match="dtype"):
        measure(model, (4,), dtype="float8")
    with pytest.raises(DepthlabError, match="input_shape"):
        measure(model, (5,), time_budget=0.01)
    with pytest.raises(DepthlabError, match="batch_size"):
        measure(model, (4,), batch_size=0)


def test_inspect_time_option_is_the_budget_of_each_timed_step(monkeypatch, capsys):
    budgets = []

    def fake_time_calls(fn, budget, **_):
        budgets.append(budget)
        return Timing(0.004, 1)

    monkeypatch.setattr(sys.modules["depthlab.diagnose.timing"], "time_calls", fake_time_calls)
    assert main(["inspect", "mlp", "width=8", "--batch-size", "4", "--time", "0.25"]) == 0
    assert budgets == [0.25, 0.25]  # inference and training
    assert "4.000" in capsys.readouterr().out  # the step time in ms, as the timer reported it
    assert main(["inspect", "mlp", "--time", "0"]) == 2
    assert "time budget 0.0" in capsys.readouterr().err
