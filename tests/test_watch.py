"""watch: numbers against .grad by hand, hook hygiene, scheduling, dead/saturated units, step modes."""

import csv
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from depthlab.diagnose import watch
from depthlab.errors import DepthlabError


def tiny_net(act=nn.ReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(6, 5), act(), nn.Linear(5, 4), act(), nn.Linear(4, 3))


def batch(n=16):
    return torch.randn(n, 6), torch.randint(0, 3, (n,))


def train(model, w_or_none, opt, steps, manual=False):
    x, y = batch()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        if manual:
            w_or_none.step()
        opt.step()


def hooks_on(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_grad_and_weight_norms_match_hand_computation():
    model = tiny_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = batch()
    with watch(model, optimizer=opt) as w:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        expected_grad = [model[i].weight.grad.norm().item() for i in (0, 2, 4)]
        before = [model[i].weight.detach().clone() for i in (0, 2, 4)]
        opt.step()
    rows = w.rows
    assert [r["name"] for r in rows] == ["0", "2", "4"]
    assert [r["depth"] for r in rows] == [1, 2, 3]
    for row, g, w0, i in zip(rows, expected_grad, before, (0, 2, 4), strict=True):
        assert row["grad_norm"] == pytest.approx(g, rel=1e-5)
        assert row["weight_norm"] == pytest.approx(w0.norm().item(), rel=1e-5)
        ratio = (model[i].weight.detach() - w0).norm() / w0.norm()
        assert row["update_ratio"] == pytest.approx(ratio.item(), rel=1e-4)
        assert row["update_ratio"] == pytest.approx(0.5 * g / w0.norm().item(), rel=1e-4)  # plain SGD


def test_activation_stats_match_the_forward():
    model = tiny_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    x, y = batch()
    with watch(model, optimizer=opt) as w:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    h = model[0](x)
    a = torch.relu(h)
    first = w.rows[0]
    assert first["out_mean"] == pytest.approx(h.mean().item(), abs=1e-6)
    assert first["out_std"] == pytest.approx(h.std().item(), rel=1e-5)
    assert first["act_std"] == pytest.approx(a.std().item(), rel=1e-5)
    dead = (a.amax(dim=0) <= 0).float().mean().item()
    assert first["dead_frac"] == pytest.approx(dead)
    assert math.isnan(first["saturated_frac"]) and math.isnan(w.rows[-1]["act_std"])  # head: no activation


def test_dead_units_and_saturation_are_seen():
    relu_net = tiny_net()
    with torch.no_grad():
        relu_net[0].bias[:3] = -100.0  # three of five units never fire
    sig_net = tiny_net(nn.Sigmoid)
    with torch.no_grad():
        sig_net[0].weight.mul_(100.0)  # sigmoid pinned to its bounds
    for net in (relu_net, sig_net):
        with watch(net) as w:
            x, y = batch(64)
            F.cross_entropy(net(x), y).backward()
            w.step()
        if net is relu_net:
            assert w.rows[0]["dead_frac"] == pytest.approx(3 / 5)
        else:
            assert w.rows[0]["saturated_frac"] > 0.9
            assert w.rows[1]["saturated_frac"] < 0.5


def test_records_every_k_steps_and_hooks_only_on_recorded_steps():
    model = tiny_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = batch()
    attached = []
    with watch(model, every=3, optimizer=opt) as w:
        for _ in range(7):
            attached.append(hooks_on(model) > 0)  # hooks present while this step's forward runs?
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    assert attached == [True, False, False, True, False, False, True]
    assert sorted({r["step"] for r in w.rows}) == [0, 3, 6]
    assert len(w.rows) == 9
    assert hooks_on(model) == 0
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks


def test_hooks_removed_on_exit_even_after_an_error():
    model = tiny_net()
    with pytest.raises(RuntimeError):
        with watch(model):
            assert hooks_on(model) > 0
            raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in model.modules())


def test_manual_steps_give_the_same_numbers_as_optimizer_hooks():
    results = []
    for manual in (False, True):
        torch.manual_seed(1)
        model = tiny_net()
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        with watch(model, every=2, optimizer=None if manual else opt) as w:
            train(model, w, opt, 5, manual=manual)
        results.append(w.rows)
    assert len(results[0]) == len(results[1]) == 9
    for a, b in zip(*results, strict=True):
        for key in ("grad_norm", "update_ratio", "act_std", "dead_frac"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, nan_ok=True)


def test_eval_forwards_are_ignored():
    model = tiny_net()
    x, y = batch()
    with watch(model) as w:
        F.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            model(x * 1000)  # an evaluation pass in the middle of the step
        w.step()
    assert w.rows[0]["out_std"] == pytest.approx(model[0](x).std().item(), rel=1e-5)


def test_csv_and_columns(tmp_path):
    model = tiny_net()
    with watch(model) as w:
        x, y = batch()
        F.cross_entropy(model(x), y).backward()
        w.step()
    path = w.to_csv(tmp_path / "flow.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and float(rows[1]["grad_norm"]) == pytest.approx(w.rows[1]["grad_norm"])
    columns = w.columns()
    assert columns["name"] == ["0", "2", "4"] and len(columns["grad_norm"]) == 3


def test_works_as_a_fit_style_callback():
    model = tiny_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w = watch(model, every=2)
    x, y = batch()
    w.on_train_start(None)
    for _ in range(4):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        w.on_backward(None)
        opt.step()
        w.on_step(None)
    w.on_train_end(None)
    assert sorted({r["step"] for r in w.rows}) == [0, 2]
    assert all(r["update_ratio"] > 0 for r in w.rows)
    assert hooks_on(model) == 0


def test_residual_layers_get_their_longest_path_index():
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.short, self.head = (
                nn.Linear(4, 4),
                nn.Linear(4, 4),
                nn.Linear(4, 4),
                nn.Linear(4, 2),
            )

        def forward(self, x):
            return self.head(self.b(torch.relu(self.a(x))) + self.short(x))

    model = Res()
    with watch(model) as w:
        model(torch.randn(3, 4)).sum().backward()
        w.step()
    depth = {r["name"]: r["depth"] for r in w.rows}
    assert depth == {"a": 1, "b": 2, "short": 1, "head": 3}


def test_bad_input():
    with pytest.raises(DepthlabError, match="every=0"):
        watch(tiny_net(), every=0)
    with pytest.raises(DepthlabError, match="no weight layer"):
        watch(nn.ReLU())


def test_with_the_engine_results_are_unchanged_and_rows_recorded():
    from depthlab.data import Dataset
    from depthlab.train import fit

    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    data = Dataset("toy", x, y, x[:8], y[:8], x[:8], y[:8], num_classes=3)
    results = []
    for watched in (False, True):
        torch.manual_seed(0)
        model = tiny_net()
        w = watch(model, every=2)
        assert hooks_on(model) == 0  # a watch not yet started attaches nothing
        history = fit(
            model, data, callbacks=[w] if watched else [], steps=6, batch_size=16, quiet=True, device="cpu"
        )
        results.append((history.final, [p.detach().clone() for p in model.parameters()]))
        assert hooks_on(model) == 0
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1], strict=True))
    assert sorted({r["step"] for r in w.rows}) == [0, 2, 4]
    assert all(r["grad_norm"] > 0 and r["update_ratio"] > 0 for r in w.rows)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_matches_cpu_numbers():
    rows = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = tiny_net().to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = batch()
        with watch(model, optimizer=opt) as w:
            opt.zero_grad()
            F.cross_entropy(model(x.to(device)), y.to(device)).backward()
            opt.step()
        rows.append(w.rows)
    for a, b in zip(*rows, strict=True):
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
        assert a["act_std"] == pytest.approx(b["act_std"], rel=1e-4, nan_ok=True)
