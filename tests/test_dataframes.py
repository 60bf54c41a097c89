"""Tidy DataFrames: ``depthlab.study.results(out)`` (one row per stored run, the config flattened) and
``watch.to_pandas()`` (one row per recorded step x layer).

Oracle: the stored rows themselves (``Store.get_many``), a stand-in run function whose accuracy is a known
function of the depth, and the watch's own table (``w.rows``).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from depthlab.diagnose.watch import COLUMNS
from depthlab.errors import DepthlabError
from depthlab.study import results
from depthlab.study.runner import execute
from depthlab.study.spec import expand, run_hash
from watched_sgd import watched_sgd


def fake_run(spec):
    """Accuracy 1 / depth + seed / 100; depth 13 fails."""
    depth = spec["model"]["depth"]
    if depth == 13:
        raise RuntimeError("unlucky depth")
    return {"status": "ok", "metrics": {"train_acc": 1 / depth + spec["seed"] / 100}, "fit_seconds": 0.5}


def test_study_results_are_one_row_per_run_with_the_config_flattened(tmp_path):
    base = {"task": "fake", "model": {"name": "mlp", "norm": "batch"}, "train": {"lr": 0.1}, "study": "demo"}
    specs = expand(base, {"model.depth": [2, 4, 13], "seed": [0, 1]})
    execute(specs, tmp_path, run_fn=fake_run, quiet=True)
    frame = results(tmp_path)
    assert sorted(frame["hash"]) == sorted(run_hash(s) for s in specs)
    assert list(frame.columns[:3]) == ["hash", "study", "status"]
    assert {"depth", "model.depth", "model.name", "model.norm", "train.lr", "seed", "task"} <= set(
        frame.columns
    )
    by_hash = {run_hash(s): s for s in specs}
    for row in frame.to_dict("records"):
        spec = by_hash[row["hash"]]
        assert row["model.depth"] == row["depth"] == spec["model"]["depth"]
        assert (row["model.norm"], row["train.lr"], row["study"]) == ("batch", 0.1, "demo")
        if row["depth"] == 13:
            assert row["status"] == "failed" and "unlucky depth" in row["error"]
            assert math.isnan(row["train_acc"])
        else:
            assert row["status"] == "ok" and row["fit_seconds"] == 0.5
            assert row["train_acc"] == pytest.approx(1 / row["depth"] + row["seed"] / 100)
    # the docs' analysis example: mean accuracy over seeds by depth
    ok = frame[frame["status"] == "ok"]
    by_depth = ok.groupby("model.depth")["train_acc"].mean()
    assert by_depth.to_dict() == pytest.approx({2: 0.505, 4: 0.255})


def test_results_of_a_folder_without_a_study_is_one_clear_error_and_writes_nothing(tmp_path):
    with pytest.raises(DepthlabError, match="no study results"):
        results(tmp_path / "nothing")
    assert not any(tmp_path.iterdir())


def test_watch_to_pandas_is_the_table_one_row_per_step_and_layer():
    torch.manual_seed(0)
    w = watched_sgd(nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 2)))
    frame = w.to_pandas()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 3 * 3  # steps 0, 2, 4 x three layers
    for got, want in zip(frame.to_dict("records"), w.rows, strict=True):
        assert all(got[k] == want[k] or (math.isnan(got[k]) and math.isnan(want[k])) for k in COLUMNS)
    assert frame.groupby("step")["layer"].apply(list).to_dict() == {0: [0, 1, 2], 2: [0, 1, 2], 4: [0, 1, 2]}
