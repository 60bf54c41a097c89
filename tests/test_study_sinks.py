"""A study's stored runs written to TensorBoard and W&B (``depthlab study --log-to``), read back.

Oracle: a stand-in run function whose curve and accuracy are known functions of the depth and seed.
"""

from __future__ import annotations

import json

import pytest

from depthlab.errors import DepthlabError
from depthlab.study.runner import execute
from depthlab.study.sinks import log_runs, run_name
from depthlab.study.spec import expand, run_hash
from depthlab.study.store import Store


def fake_run(spec):
    """A loss curve 1/(step+1) scaled by the depth; accuracy 1/depth + seed/100; depth 13 fails."""
    depth = spec["model"]["depth"]
    if depth == 13:
        raise RuntimeError("unlucky depth")
    curve = [(step, depth / (step + 1)) for step in (0, 5, 10)]
    metrics = {"val_acc": 1 / depth + spec["seed"] / 100, "status_note": "text is not charted"}
    return {"status": "ok", "metrics": metrics, "history": {"curve": curve}, "fit_seconds": 0.1}


def stored_study(tmp_path):
    base = {"task": "fake", "model": {"name": "mlp"}, "study": "demo"}
    specs = expand(base, {"model.depth": [2, 4, 13], "seed": [0, 1]})
    for spec in specs:
        spec["tags"] = {"depth": spec["model"]["depth"]}
    execute(specs, tmp_path / "study", run_fn=fake_run, quiet=True)
    return specs


@pytest.mark.extra("tensorboard")
def test_each_ok_run_gets_its_curve_and_final_metrics_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    specs = stored_study(tmp_path)
    assert log_runs(tmp_path / "study", f"tensorboard:{tmp_path / 'tb'}") == 4  # depth 13 failed
    with Store(tmp_path / "study") as store:
        rows = {row["hash"]: row for row in store.all_rows()}
    for spec in specs:
        row = rows[run_hash(spec)]
        folder = tmp_path / "tb" / "demo" / run_name(row)
        assert folder.exists() == (spec["model"]["depth"] != 13)
        if not folder.exists():
            continue
        events = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        depth = spec["model"]["depth"]
        curve = [(e.step, e.value) for e in events.Scalars("curve/loss")]
        assert curve == [(s, pytest.approx(depth / (s + 1))) for s in (0, 5, 10)]
        (final,) = events.Scalars("final/val_acc")
        assert final.value == pytest.approx(1 / depth + spec["seed"] / 100)
        assert "final/status_note" not in events.Tags()["scalars"]


@pytest.mark.extra("wandb")
def test_each_study_gets_one_wandb_run_with_a_table_of_its_runs(tmp_path, wandb_offline):
    specs = stored_study(tmp_path)
    assert log_runs(tmp_path / "study", "wandb:depthlab-test") == 4
    (run,) = tmp_path.glob("wandb/offline-run-*")
    (path,) = run.glob("files/media/**/*.table.json")
    table = json.loads(path.read_text())
    rows = [dict(zip(table["columns"], cells, strict=True)) for cells in table["data"]]
    expected = {
        run_hash(s): 1 / s["model"]["depth"] + s["seed"] / 100 for s in specs if s["model"]["depth"] != 13
    }
    assert {r["hash"]: pytest.approx(r["val_acc"]) for r in rows} == expected
    assert all(r["model.name"] == "mlp" and r["study"] == "demo" for r in rows)


def test_a_bad_sink_name_is_one_clear_error(tmp_path):
    stored_study(tmp_path)
    with pytest.raises(DepthlabError, match="unknown log_to sink 'tb'"):
        log_runs(tmp_path / "study", "tb:somewhere")


def test_the_study_command_logs_what_it_stored(tmp_path, monkeypatch):
    from depthlab.cli import main
    from depthlab.study import sinks

    written = []
    monkeypatch.setattr(sinks, "write_tensorboard_run", lambda logdir, row: written.append(row["hash"]))
    stored_study(tmp_path)
    argv = ["study", "--report-only", "--out", str(tmp_path / "study"), "--log-to", f"tensorboard:{tmp_path}"]
    assert main(argv) == 0
    with Store(tmp_path / "study") as store:
        assert sorted(written) == sorted(r["hash"] for r in store.all_rows() if r["status"] == "ok")


def test_the_study_command_refuses_a_bad_sink_before_running(tmp_path, capsys):
    from depthlab.cli import main

    assert main(["study", "depth", "--out", str(tmp_path / "s"), "--log-to", "tb:x"]) == 2
    assert "unknown log_to sink 'tb'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
