"""The Lightning callback gives the watch table and the doctor's verdicts from a Trainer.

Oracle: with SGD, no shuffling and one batch per step, the callback's step-0 gradient norms equal autograd's
on an independent copy of the initial model, and its update ratios equal lr * ||g|| / ||W||; the verdicts
equal ``diagnose`` on the same watch.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.extra("lightning")
pl = pytest.importorskip(
    "lightning.pytorch", reason="needs the optional extra 'lightning' (pip install 'depthlab[lightning]')"
)

from depthlab.diagnose.lightning import DepthlabCallback  # noqa: E402

LR = 0.1


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 2))

    def training_step(self, batch, _index):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=LR)


def _loader():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=gen), torch.randint(0, 2, (64,), generator=gen)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16), (x[:16], y[:16])


def test_the_callback_records_what_autograd_says_and_gives_the_doctors_verdicts(tmp_path, capsys):
    torch.manual_seed(0)
    module = Tiny()
    twin = copy.deepcopy(module.net)
    loader, (x0, y0) = _loader()
    nn.functional.cross_entropy(twin(x0), y0).backward()
    expected = {f"net.{n}": m for n, m in twin.named_modules() if isinstance(m, nn.Linear)}
    callback = DepthlabCallback(every=2)
    trainer = quiet_trainer(callback, tmp_path)
    trainer.fit(module, loader)
    rows = callback.watch.rows
    assert sorted({r["step"] for r in rows}) == [0, 2]
    first = {r["name"]: r for r in rows if r["step"] == 0}
    assert set(first) == set(expected)
    for name, layer in expected.items():
        grad, weight = layer.weight.grad.norm().item(), layer.weight.detach().norm().item()
        assert first[name]["grad_norm"] == pytest.approx(grad, rel=1e-5)
        assert first[name]["update_ratio"] == pytest.approx(LR * grad / weight, rel=1e-4)
    from depthlab.diagnose.doctor import diagnose

    assert [v.line() for v in callback.verdicts] == [v.line() for v in diagnose(callback.watch)]
    printed = capsys.readouterr().out
    assert "watch, step 2:" in printed and "net.4" in printed
    assert all(v.line() in printed for v in callback.verdicts)


def quiet_trainer(callback, tmp_path):
    """Four CPU steps with ``callback`` and nothing else of Lightning's own (no logger, checkpoint, bars)."""
    return pl.Trainer(
        max_steps=4,
        callbacks=[callback],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )


@pytest.mark.extra("tensorboard")
def test_the_callback_charts_its_table_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    torch.manual_seed(0)
    logdir = tmp_path / "tb"
    callback = DepthlabCallback(every=2, verbose=False, log_to=f"tensorboard:{logdir}")
    trainer = quiet_trainer(callback, tmp_path)
    trainer.fit(Tiny(), _loader()[0])
    events = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    events.Reload()
    for step in (0, 2):
        ratios = [r["update_ratio"] for r in callback.watch.rows if r["step"] == step]
        written = [e.value for e in events.Scalars(f"watch/update_ratio/step_{step:07d}")]
        assert written == pytest.approx(ratios, rel=1e-6) and all(r > 0 for r in ratios)
