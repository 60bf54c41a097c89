"""``watch(model, log_to=...)`` writes its table and the doctor's verdicts where users look.

Oracle: the watch's own table (``w.rows``, itself tested against autograd in test_watch.py) and
``check_rows`` on it. Each sink is read back from what it wrote: TensorBoard's event files through
TensorBoard's own ``EventAccumulator``, W&B's offline run files (the tables it stores as JSON).
"""

from __future__ import annotations

import json
import math
import re
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from depthlab.diagnose import watch
from depthlab.diagnose.checks import check_rows
from depthlab.diagnose.sinks import CHARTED
from depthlab.errors import DepthlabError

STEPS, EVERY = 7, 2


def _train(log_to, steps: int = STEPS, every: int = EVERY):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    with watch(model, every=every, log_to=log_to) as w:
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return w


class Recorder:
    """A sink that keeps what it is given."""

    def __init__(self):
        self.steps, self.verdicts, self.closed = [], None, 0

    def write_step(self, step, rows):
        self.steps.append((step, [dict(r) for r in rows]))

    def write_verdicts(self, verdicts):
        self.verdicts = list(verdicts)

    def close(self):
        self.closed += 1


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def test_a_sink_gets_each_recorded_step_once_with_its_update_ratio_then_the_verdicts():
    sink = Recorder()
    w = _train(sink)
    assert [step for step, _ in sink.steps] == list(range(0, STEPS, EVERY))
    sent = [row for _, rows in sink.steps for row in rows]
    assert len(sent) == len(w.rows)
    for got, want in zip(sent, w.rows, strict=True):
        assert got.keys() == want.keys() and all(_same(got[k], want[k]) for k in got)
    assert all(math.isfinite(row["update_ratio"]) for row in sent)  # sent once the optimizer stepped
    assert sink.verdicts == check_rows(w.rows) and sink.closed == 1


def test_a_watch_ended_by_fit_callbacks_sends_the_last_step_on_exit():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sink = Recorder()
    w = watch(model, log_to=sink)
    w.on_train_start(None)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).sum().backward()
        w.on_backward(None)
        optimizer.step()
        w.on_step(None)
    w.on_backward(None)  # a last recorded step whose optimizer step never comes
    w.on_train_end(None)
    assert [step for step, _ in sink.steps] == [0, 1, 2, 3]
    assert math.isnan(sink.steps[-1][1][0]["update_ratio"]) and sink.closed == 1


@pytest.mark.parametrize(
    ("log_to", "named"),
    [("tensorbord:runs", "tensorboard"), ("tensorboard", "tensorboard:runs/mlp"), (3, "tensorboard:DIR")],
)
def test_a_bad_log_to_is_one_clear_error_and_writes_nothing(tmp_path, monkeypatch, log_to, named):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DepthlabError, match=named):
        _train(log_to)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("log_to", "extra"), [("tensorboard:runs", "tensorboard"), ("wandb", "wandb")])
def test_a_missing_extra_is_named(tmp_path, monkeypatch, log_to, extra):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # None in sys.modules: ImportError
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(DepthlabError, match=rf"pip install 'depthlab\[{extra}\]'"):
        _train(log_to)
    assert not any(tmp_path.iterdir())


def _by_step(w, column: str) -> dict[int, list[float]]:
    table: dict[int, list[float]] = {}
    for row in w.rows:
        table.setdefault(row["step"], []).append(row[column])
    return table


def _logged_key(file_name: str) -> str:
    """``grad_norm`` from W&B's ``grad_norm_table_0_<hash>.table.json`` (a chart's table), ``verdicts`` from
    ``verdicts_2_<hash>.table.json``."""
    return re.sub(r"(_table)?_\d+_[0-9a-f]+\.table\.json$", "", file_name)


@pytest.mark.extra("tensorboard")
def test_tensorboard_gets_one_depth_profile_per_recorded_step_in_one_chart_per_column(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.custom_scalar import layout_pb2

    w = _train(f"tensorboard:{tmp_path}")
    events = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    for column in CHARTED:
        for step, values in _by_step(w, column).items():
            written = events.Scalars(f"watch/{column}/step_{step:07d}")
            assert [e.step for e in written] == list(range(len(values)))  # x: the layer index
            assert [e.value for e in written] == pytest.approx(values, rel=1e-6)  # float32 in the file
    layout = layout_pb2.Layout()
    layout.ParseFromString(events.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for c in layout.category[0].chart}
    assert charts == {f"{c} by layer": [rf"watch/{c}/step_\d+"] for c in CHARTED}
    text = events.Tensors("doctor/verdicts/text_summary")[0].tensor_proto.string_val[0].decode()
    for verdict in check_rows(w.rows):
        assert f"| {verdict.check} | {verdict.status} |" in text


@pytest.mark.extra("wandb")
def test_wandb_offline_gets_depth_ordered_line_charts_the_table_and_the_verdicts(tmp_path, wandb_offline):
    w = _train("wandb:depthlab-test")
    (run,) = tmp_path.glob("wandb/offline-run-*")
    tables = {_logged_key(p.name): json.loads(p.read_text()) for p in run.glob("files/media/**/*.table.json")}
    for column in CHARTED:  # line_series: (x = layer, line = "step N", log10 value)
        series = {(key, x): value for x, key, value in tables[column]["data"]}
        for step, values in _by_step(w, column).items():
            for layer, value in enumerate(values):
                assert series[(f"step {step}", layer)] == pytest.approx(math.log10(value))
    table = tables["table"]
    assert len(table["data"]) == len(w.rows)
    assert [dict(zip(table["columns"], cells, strict=True))["grad_norm"] for cells in table["data"]] == [
        pytest.approx(row["grad_norm"]) for row in w.rows
    ]
    verdicts = {(cells[0], cells[1]) for cells in tables["verdicts"]["data"]}
    assert verdicts == {(v.check, v.status) for v in check_rows(w.rows)}


def test_train_with_a_bad_log_to_exits_2_before_training(capsys, tmp_path):
    from depthlab.cli import main

    argv = ["train", "mlp", "steps=5", "--data", "xor", "--out", str(tmp_path / "run"), "--log-to", "tb:x"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'tb'" in err and "tensorboard" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.extra("tensorboard")
def test_train_log_to_charts_every_tenth_step_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    from depthlab.cli import main

    argv = ["train", "mlp", "depth=3", "width=8", "steps=25", "device=cpu", "--data", "xor", "--quiet"]
    assert main([*argv, "--log-to", f"tensorboard:{tmp_path}"]) == 0
    events = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    tags = {t for t in events.Tags()["scalars"] if t.startswith("watch/grad_norm/")}
    assert tags == {f"watch/grad_norm/step_{step:07d}" for step in (0, 10, 20)}
    assert "doctor/verdicts/text_summary" in events.Tags()["tensors"]
