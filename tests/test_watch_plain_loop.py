"""watch around a plain training loop (forward, backward, optimizer.step(), no extra calls) records rows.

Oracle: the recorded gradient norm of each layer at step 0 equals the norm of the weight gradient computed
independently by autograd on a copy of the model, and for SGD the update ratio is lr * ||g|| / ||W||.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from depthlab.diagnose import watch
from depthlab.errors import DepthlabError


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(32, 6, generator=gen), torch.randint(0, 3, (32,), generator=gen)


def _reference_grads(model: nn.Module) -> dict[str, float]:
    twin = copy.deepcopy(model)
    x, y = _batch()
    nn.functional.cross_entropy(twin(x), y).backward()
    return {name: float(m.weight.grad.norm()) for name, m in twin.named_modules() if isinstance(m, nn.Linear)}


def _plain_loop(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    x, y = _batch()
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize(
    "make", [lambda p: torch.optim.SGD(p, lr=0.1), lambda p: torch.optim.Adam(p, lr=1e-2)]
)
def test_a_plain_loop_records_every_layer_with_gradients_equal_to_autograd(make):
    model = _net()
    expected = _reference_grads(model)
    with watch(model, every=2) as w:
        _plain_loop(model, make(model.parameters()), steps=5)
    rows = w.rows
    assert sorted({r["step"] for r in rows}) == [0, 2, 4]
    first = {r["name"]: r for r in rows if r["step"] == 0}
    assert set(first) == set(expected)
    for name, norm in expected.items():
        assert first[name]["grad_norm"] == pytest.approx(norm, rel=1e-5)
        assert first[name]["update_ratio"] > 0


def test_sgd_update_ratio_is_lr_times_grad_over_weight():
    model = _net()
    weights = {
        n: float(m.weight.detach().norm()) for n, m in model.named_modules() if isinstance(m, nn.Linear)
    }
    grads = _reference_grads(model)
    with watch(model) as w:
        _plain_loop(model, torch.optim.SGD(model.parameters(), lr=0.05), steps=1)
    for row in w.rows:
        assert row["update_ratio"] == pytest.approx(
            0.05 * grads[row["name"]] / weights[row["name"]], rel=1e-4
        )


def test_an_optimizer_of_another_model_does_not_end_steps():
    model, other = _net(), nn.Linear(3, 3)
    optimizer = torch.optim.SGD(other.parameters(), lr=0.1)
    with pytest.warns(RuntimeWarning, match="watch recorded nothing"):
        with watch(model) as w:
            for _ in range(3):
                other(torch.randn(2, 3)).sum().backward()
                optimizer.step()
    assert w.rows == []


def test_updates_by_hand_warn_once_how_to_fix_it():
    model = _net()
    x, y = _batch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with watch(model) as w:
            for _ in range(2):
                nn.functional.cross_entropy(model(x), y).backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= 0.1 * p.grad
            assert w.rows == []
    messages = [str(c.message) for c in caught if issubclass(c.category, RuntimeWarning)]
    assert len(messages) == 1 and "w.step()" in messages[0] and "optimizer=opt" in messages[0]


def test_w_step_by_hand_still_works_and_is_not_counted_twice():
    model = _net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _batch()
    with watch(model) as w:
        for _ in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            w.step()
            optimizer.step()
    assert sorted({r["step"] for r in w.rows}) == [0, 1, 2]
    with pytest.raises(DepthlabError, match="already end"):
        with watch(model) as w2:
            _plain_loop(model, optimizer, steps=1)
            w2.step()


def test_lbfgs_closure_steps_are_read_after_the_closure_ran():
    model = _net()
    expected = _reference_grads(model)
    x, y = _batch()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.1, max_iter=1)

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    with watch(model) as w:
        optimizer.step(closure)
    first = {r["name"]: r["grad_norm"] for r in w.rows if r["step"] == 0}
    assert first == pytest.approx(expected, rel=1e-5)
