"""The measurements behind the residual, representation, composition and transfer studies, against hand
formulas and brute force: He's basic block, layer responses where He et al. Fig. 7 takes them, lesions with
their baseline, one probe for studies and diagnose, the exact piecewise-linear optimum, proper freezing."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from depthlab.data import load_dataset
from depthlab.data.synthetic import tent_power
from depthlab.diagnose import feature_probes as probes
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.study import measures, tasks
from depthlab.study.piecewise import best_piecewise_mse
from depthlab.train import fit


def basic(depth: int = 6, residual: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("mlp_basic", depth=depth, width=8, input_shape=(5,), num_classes=3, residual=residual)


def test_basic_block_adds_before_the_second_relu():
    model = basic().eval()
    with torch.no_grad():
        for block in model.blocks:  # give BN non-trivial statistics so the formula is checked, not 0 = 0
            for norm in (block.norm1, block.norm2):
                norm.running_mean.uniform_(-1, 1)
                norm.running_var.uniform_(0.5, 2)
        h = torch.randn(4, 8)
        block = model.blocks[0]
        inner = torch.relu(block.norm1(block.layer1(h)))
        expected = torch.relu(block.norm2(block.layer2(inner)) + h)
        assert torch.allclose(block(h), expected)
        plain = basic(residual=False).eval().blocks[0]
        plain.load_state_dict(block.state_dict())
        assert torch.allclose(plain(h), torch.relu(block.norm2(block.layer2(inner))))


def test_basic_twins_share_parameters_and_init():
    resid, plain = basic(residual=True), basic(residual=False)
    assert [p.shape for p in resid.parameters()] == [p.shape for p in plain.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(resid.parameters(), plain.parameters(), strict=True))
    linears = sum(isinstance(m, nn.Linear) for m in resid.modules())
    assert linears == resid.depth == 6


def test_basic_mlp_depth_must_be_even():
    with pytest.raises(DepthlabError, match="depth=5"):
        basic(depth=5)


def test_response_stds_are_the_bn_outputs_before_relu_and_addition():
    model = basic(depth=8).eval()
    x = torch.randn(64, 5)
    with torch.no_grad():
        h, expected = model.stem(x), []
        for block in model.blocks:
            first = block.norm1(block.layer1(h))
            second = block.norm2(block.layer2(torch.relu(first)))
            expected += [float(first.std()), float(second.std())]
            h = block(h)
    assert measures.response_stds(model, x) == pytest.approx(expected)
    assert len(expected) == 2 * len(model.blocks)


def test_lesion_reports_the_unlesioned_accuracy_and_one_value_per_block():
    data = load_dataset("xor", seed=0)
    torch.manual_seed(0)
    model = create_model("mlp", **data.model_kwargs(), depth=5, width=8, residual=True)
    result = measures.lesion_accuracies(model, data)
    assert result["baseline"] == pytest.approx(probes.accuracy(model, data.x_test, data.y_test))
    assert len(result["blocks"]) == len(model.blocks)


def test_study_probes_are_diagnose_probes():
    data = load_dataset("xor", seed=0)
    torch.manual_seed(0)
    model = create_model("mlp", **data.model_kwargs(), depth=4, width=8, norm="batch")
    study = measures.probe_accuracies(model, data)
    n = measures.PROBE_SAMPLES
    part = dataclasses.replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    diagnose_rows = probes.linear_probes(model, part, steps=measures.PROBE_STEPS)
    assert study[1:] == pytest.approx([r["test_acc"] for r in diagnose_rows])
    assert len(study) == len(model.blocks) + 2  # raw input, stem, each block


def _brute_force(x: np.ndarray, y: np.ndarray, pieces: int) -> float:
    order = np.argsort(x)
    x, y, n = x[order], y[order], len(x)
    best = np.inf
    for cuts in itertools.combinations(range(1, n), pieces - 1):
        bounds = [0, *cuts, n]
        sse = 0.0
        for a, b in itertools.pairwise(bounds):
            design = np.stack([x[a:b], np.ones(b - a)], 1)
            fitted = design @ np.linalg.lstsq(design, y[a:b], rcond=None)[0]
            sse += float(((y[a:b] - fitted) ** 2).sum())
        best = min(best, sse)
    return best / n


@pytest.mark.parametrize("pieces", [1, 2, 3, 4])
def test_piecewise_optimum_equals_brute_force(pieces):
    rng = np.random.default_rng(pieces)
    x, y = rng.uniform(0, 1, 11), rng.normal(size=11)
    assert best_piecewise_mse(x, y, pieces) == pytest.approx(_brute_force(x, y, pieces), rel=1e-9, abs=1e-12)


def test_piecewise_optimum_is_zero_with_enough_pieces_and_positive_without():
    x = np.linspace(0, 1, 1001)
    y = tent_power(torch.tensor(x), 3).numpy()
    assert best_piecewise_mse(x, y, 8) < 1e-12  # tent^3 has exactly 2^3 pieces
    assert best_piecewise_mse(x, y, 7) > 1e-3  # one piece short cannot be exact
    assert best_piecewise_mse(x, y, 1) == pytest.approx(np.var(y - np.polyval(np.polyfit(x, y, 1), x)))


def test_freeze_keeps_bn_statistics_and_weights_while_the_rest_trains():
    data = load_dataset("mnist1d", seed=0)
    torch.manual_seed(0)
    model = create_model("mlp", **data.model_kwargs(), depth=4, width=16, norm="batch")
    tasks.freeze(model.stem)
    before = {k: v.clone() for k, v in model.stem.state_dict().items()}
    head = model.head.weight.detach().clone()
    fit(model, data, steps=20, batch_size=64, quiet=True, callbacks=(tasks.KeepInEval([model.stem]),))
    after = model.stem.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running_mean/var included
    assert not model.stem.training and model.blocks.training
    assert not torch.equal(head, model.head.weight)


def test_transferred_frozen_layers_get_no_gradient_and_stay_in_eval_mode_at_every_step():
    data = load_dataset("mnist1d", seed=0)
    torch.manual_seed(0)
    source = create_model("mlp", **data.model_kwargs(), depth=4, width=16, norm="batch")
    target = create_model("mlp", **data.model_kwargs(), depth=4, width=16, norm="batch")
    frozen = tasks.copy_prefix(source, target, layers=2, frozen=True)
    assert frozen == [target.stem, target.blocks[0]]
    # the frozen stem's mode at every forward: evaluation runs each epoch and ends in model.train()
    modes = []
    target.stem.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    trainable = [p.detach().clone() for p in target.blocks[1].parameters()]
    small = dataclasses.replace(data, x_train=data.x_train[:256], y_train=data.y_train[:256])
    spec = {"seed": 0, "train": {"steps": 12, "batch_size": 64, "eval_every": 1}}  # 3 epochs, 3 evaluations
    tasks.train_once(
        {**spec, "model": {"name": "mlp"}}, small, target, prepare=lambda _: [tasks.KeepInEval(frozen)]
    )
    assert len(modes) > 12 and not any(modes)
    for module, original in ((target.stem, source.stem), (target.blocks[0], source.blocks[0])):
        copied = original.state_dict()  # weights and BatchNorm statistics as transferred
        assert all(torch.equal(value, copied[name]) for name, value in module.state_dict().items())
        assert all(p.grad is None and not p.requires_grad for p in module.parameters())
    assert not all(map(torch.equal, trainable, target.blocks[1].parameters()))  # the rest trained
