"""Worker-side pieces of the studies, against hand-computed oracles."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from depthlab.data.dataset import Dataset
from depthlab.models import create_model
from depthlab.study import measures
from depthlab.study.tasks import class_subset, set_tent_weights


def test_class_subset_keeps_and_relabels_only_the_chosen_classes():
    x = torch.arange(12.0).reshape(12, 1)
    y = torch.tensor([0, 1, 2, 3] * 3)
    data = Dataset("toy", x, y, x[:4], y[:4], x[4:8], y[4:8], num_classes=4)
    sub = class_subset(data, [2, 3], train_size=5)  # 6 examples of classes 2 and 3, cut to 5
    assert sub.num_classes == 2
    assert sub.y_train.tolist() == [0, 1, 0, 1, 0]
    assert sub.x_train.flatten().tolist() == [2.0, 3.0, 6.0, 7.0, 10.0]
    assert sub.y_test.tolist() == [0, 1]


@pytest.mark.parametrize("k", [1, 3, 6])
def test_constructed_tent_net_computes_the_sawtooth_with_2_to_the_k_pieces(k):
    model = create_model("mlp", depth=k + 1, width=2, input_shape=(1,), num_classes=1)
    set_tent_weights(model, torch.zeros(1, 1))
    x = torch.rand(500, 1)
    target = x.clone()
    for _ in range(k):
        target = 2 * torch.relu(target) - 4 * torch.relu(target - 0.5)
    with torch.no_grad():
        assert torch.allclose(model(x), target, atol=1e-5)
    assert measures.linear_pieces(model) == 2**k


def test_linear_pieces_of_a_one_hidden_layer_net_match_its_kinks():
    # relu(x - 0.25) + relu(x - 0.5) - 3 relu(x - 0.75): kinks at 0.25, 0.5, 0.75 -> 4 pieces on [0, 1]
    model = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.copy_(torch.tensor([-0.25, -0.5, -0.75]))
        model[2].weight.copy_(torch.tensor([[1.0, 1.0, -3.0]]))
        model[2].bias.zero_()
    assert measures.linear_pieces(model) == 4


def test_activation_grad_norms_match_autograd_on_a_linear_chain():
    # A linear 3-layer MLP: dLoss/dh for each hidden output, checked against torch.autograd.grad.
    torch.manual_seed(0)
    model = create_model("mlp", depth=3, width=4, input_shape=(5,), num_classes=3, activation="identity")
    data = Dataset(
        "toy",
        torch.randn(8, 5),
        torch.randint(0, 3, (8,)),
        torch.randn(2, 5),
        torch.randint(0, 3, (2,)),
        torch.randn(2, 5),
        torch.randint(0, 3, (2,)),
        num_classes=3,
    )
    norms = measures.activation_grad_norms(model, data, batch_size=8)
    hidden = model.forward_intermediates(data.x_train)
    loss = nn.functional.cross_entropy(model.forward_head(model.pool(hidden[-1])), data.y_train)
    grads = torch.autograd.grad(loss, hidden)
    assert norms == pytest.approx([float(g.pow(2).mean().sqrt()) for g in grads], rel=1e-5)


def test_latency_task_reports_each_shape_with_its_flops_by_the_hand_formula():
    from depthlab.study.tasks import run_spec

    spec = {
        "task": "latency",
        "model": {"name": "mlp", "norm": "none"},
        "data": {"name": "xor"},
        "seed": 0,
        "latency": {
            "shapes": {"narrow": {"depth": 3, "width": 4}, "wide": {"depth": 2, "width": 16}},
            "rounds": 2,
        },
    }
    shapes = run_spec(spec)["diagnostics"]["latency"]
    # FLOPs of the matrix products per example: 2 x (in x w + w x w per hidden block + w x classes)
    assert shapes["narrow"]["flops"] == 2 * (2 * 4 + 4 * 4 + 4 * 2)
    assert shapes["wide"]["flops"] == 2 * (2 * 16 + 16 * 2)
    assert all(len(s["latency_ms"]) == 2 and min(s["latency_ms"]) > 0 for s in shapes.values())


TINY = {
    "model": {"name": "mlp", "depth": 2, "width": 8},
    "data": {"name": "xor"},
    "seed": 0,
    "train": {"steps": 3},
}
SAWTOOTH = {"name": "sawtooth", "k": 2, "num_samples": 200}
TASK_SPECS = {
    "train": {**TINY, "diagnostics": ["grad_norms"]},
    "transfer": {
        **TINY,
        "data": {"name": "mnist1d"},
        "task": "transfer",
        "transfer": {"layers": 2, "frozen": True, "train_size": 40},
    },
    "construct": {"task": "construct", "model": {"name": "mlp", "depth": 3, "width": 2}, "data": SAWTOOTH},
    "optimum": {"task": "optimum", "optimum": {"pieces": 3}, "model": {"name": "mlp"}, "data": SAWTOOTH},
    "init": {**TINY, "task": "init", "diagnostics": ["grad_norms"]},
    "latency": {**TINY, "task": "latency", "latency": {"shapes": {"one": {"depth": 2}}, "rounds": 1}},
}


def test_every_task_has_a_spec_here():
    from depthlab.study.tasks import TASKS

    assert TASK_SPECS.keys() == TASKS.keys()


@pytest.mark.parametrize("name", sorted(TASK_SPECS))
def test_every_task_returns_a_task_result_and_run_spec_the_row_dict(name):
    from depthlab.study.tasks import TASKS, TaskResult, run_spec

    result = TASKS[name](TASK_SPECS[name])
    assert isinstance(result, TaskResult)
    assert result.status == "ok"
    row = run_spec(TASK_SPECS[name])
    assert row.keys() == {"status", "metrics", "history", "diagnostics", "fit_seconds"}


def test_deploy_latency_times_each_form_as_itself(monkeypatch):
    """A training form 200 layers slower than its stand-in deploy form reads several times slower: the two
    timings are not swapped or shared."""
    import statistics

    import depthlab.deploy
    from depthlab.data import load_dataset
    from depthlab.study.tasks import deploy_latency

    class Slow(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

        def forward(self, x):
            for _ in range(200):
                x = x + 0.0 * self.layer(x)
            return x

    monkeypatch.setattr(depthlab.deploy, "deploy_form", lambda model: nn.Linear(2, 2))
    times = deploy_latency(Slow(), load_dataset("xor", seed=0), rounds=3)
    assert len(times["train"]) == len(times["deploy"]) == 3
    assert statistics.median(times["train"]) > 3 * statistics.median(times["deploy"])
