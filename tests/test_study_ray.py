"""The Ray backend on a local Ray instance that the tests start (2 CPUs, no dashboard, a small object store).

A study run on Ray stores the same results as the local backend; a Ray worker killed mid-run is retried, so
no finished run is lost and none is stored twice; a run whose worker keeps dying stops the study with one
clear error, keeps every finished run, and the rerun completes the rest.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from depthlab.errors import DepthlabError
from depthlab.study.runner import execute
from depthlab.study.spec import run_hash
from depthlab.study.store import Store

pytestmark = pytest.mark.extra("ray")
ray = pytest.importorskip("ray", reason="needs the optional extra 'ray' (pip install 'depthlab[ray]')")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    # Ray's workers cannot import this test module by name: its functions travel by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=80 * 2**20,
        log_to_driver=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def tiny_specs(depths=(1, 2, 3, 4)) -> list[dict]:
    """Real training runs, small enough for a test: an MLP on spirals for 20 steps."""
    return [
        {
            "study": "ray",
            "model": {"name": "mlp", "depth": d, "width": 8},
            "data": {"name": "spirals"},
            "train": {"steps": 20, "batch_size": 64},
            "seed": 0,
        }
        for d in depths
    ]


def stored(directory: Path, specs: list[dict]) -> dict[str, dict]:
    with Store(directory) as store:
        assert store.count() == len(specs)  # nothing stored twice, nothing else stored
        return store.get_many(run_hash(s) for s in specs)


@pytest.mark.slow
def test_a_study_on_ray_stores_the_same_results_as_the_local_backend(tmp_path):
    specs = tiny_specs()
    local = execute(specs, tmp_path / "local", workers=2, quiet=True)
    on_ray = execute(specs, tmp_path / "ray", workers=2, backend="ray", quiet=True)
    assert local.statuses == on_ray.statuses == {"ok": len(specs)}
    a, b = stored(tmp_path / "local", specs), stored(tmp_path / "ray", specs)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["status"] == b[key]["status"]
        timings = {k for k in a[key]["metrics"] if k.endswith("seconds")}  # machine time, not a result
        assert {k: v for k, v in b[key]["metrics"].items() if k not in timings} == pytest.approx(
            {k: v for k, v in a[key]["metrics"].items() if k not in timings}, rel=1e-6
        )
    assert {row["env"]["pid"] for row in b.values()}.isdisjoint({os.getpid()})  # they ran in Ray's workers


def dying_run(spec: dict) -> dict:
    """Stand-in for training (sleeps 0.3 s). Depth 3's worker kills itself with SIGKILL: once when a marker
    file says ``once`` (the file then holds its pid), on every attempt when it says ``always``."""
    marker = Path(spec["marker"])
    if spec["model"]["depth"] == 3 and marker.read_text() in ("once", "always"):
        if marker.read_text() == "once":
            marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.3)
    return {"status": "ok", "metrics": {"depth": spec["model"]["depth"], "pid": os.getpid()}}


def dying_specs(marker: Path, depths=range(1, 7)) -> list[dict]:
    return [
        {"study": "ray", "model": {"name": "mlp", "depth": d}, "marker": str(marker), "tags": {"depth": d}}
        for d in depths
    ]


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_retried_and_no_run_is_lost_or_stored_twice(tmp_path):
    marker = tmp_path / "marker"
    marker.write_text("once")
    specs = dying_specs(marker)
    summary = execute(specs, tmp_path / "out", run_fn=dying_run, workers=2, backend="ray", quiet=True)
    killed_pid = int(marker.read_text())  # the kill happened
    assert summary.statuses == {"ok": 6}
    rows = stored(tmp_path / "out", specs)
    third = rows[run_hash(specs[2])]
    assert third["status"] == "ok" and third["metrics"]["pid"] != killed_pid  # redone by another worker
    before = {key: row["finished_at"] for key, row in rows.items()}
    again = execute(specs, tmp_path / "out", run_fn=dying_run, workers=2, backend="ray", quiet=True)
    assert again.skipped == 6 and again.ran == 0
    assert {key: row["finished_at"] for key, row in stored(tmp_path / "out", specs).items()} == before


@pytest.mark.slow
def test_a_run_whose_worker_keeps_dying_stops_the_study_and_the_rerun_completes(tmp_path, monkeypatch):
    monkeypatch.setattr("depthlab.study.backends.RAY_RETRIES", 1)  # two deaths are enough to give up
    marker = tmp_path / "marker"
    marker.write_text("always")
    specs = dying_specs(marker)
    with pytest.raises(DepthlabError, match="run ray depth=3 lost its Ray worker 2 times.*rerun the command"):
        execute(specs, tmp_path / "out", run_fn=dying_run, workers=2, backend="ray", quiet=True)
    with Store(tmp_path / "out") as store:
        finished = {
            key: row["finished_at"] for key, row in store.get_many(run_hash(s) for s in specs).items()
        }
    assert 1 <= len(finished) < 6 and run_hash(specs[2]) not in finished
    marker.write_text("healed")
    summary = execute(specs, tmp_path / "out", run_fn=dying_run, workers=2, backend="ray", quiet=True)
    assert summary.skipped == len(finished) and summary.ran == 6 - len(finished)
    rows = stored(tmp_path / "out", specs)
    assert all(rows[key]["finished_at"] == t for key, t in finished.items())  # finished runs were not redone


class FakeCluster:
    """Stands in for ``ray`` where only the cluster's resources matter."""

    def __init__(self, gpus: int):
        self.gpus = gpus

    def cluster_resources(self) -> dict:
        return {"CPU": 16, **({"GPU": self.gpus} if self.gpus else {})}


def test_runs_on_cuda_ask_ray_for_a_share_of_the_gpus_and_cpu_runs_for_none():
    from depthlab.study.backends import gpu_share

    cuda_jobs = [("a", {"train": {"device": "cuda"}}), ("b", {"train": {"device": "cuda"}})]
    assert gpu_share(FakeCluster(2), cuda_jobs, workers=8) == 0.25
    assert gpu_share(FakeCluster(8), cuda_jobs, workers=4) == 1.0
    assert gpu_share(FakeCluster(8), [("a", {"train": {"steps": 3}}), ("b", {})], workers=4) == 0
    with pytest.raises(DepthlabError, match="device=cuda but the Ray cluster has no GPU"):
        gpu_share(FakeCluster(0), cuda_jobs, workers=2)


@pytest.mark.slow
def test_ray_tasks_import_a_builder_by_path(tmp_path):
    builder = tmp_path / "raynets.py"
    builder.write_text(
        "from torch import nn\n"
        "def build(depth: int, input_shape=(2,), num_classes=2):\n"
        "    return nn.Sequential(nn.Linear(input_shape[0], 8), *[nn.Linear(8, 8) for _ in range(depth)],\n"
        "                         nn.Linear(8, num_classes))\n"
    )
    specs = [
        {**spec, "model": {"name": f"{builder}:build", "depth": spec["model"]["depth"]}}
        for spec in tiny_specs(depths=(1, 2))
    ]
    done = execute(specs, tmp_path / "ray", workers=2, backend="ray", quiet=True)
    assert done.statuses == {"ok": 2}
    rows = stored(tmp_path / "ray", specs)
    assert {row["metrics"]["params"] for row in rows.values()} == {24 + 72 + 18, 24 + 2 * 72 + 18}
    assert {row["env"]["pid"] for row in rows.values()}.isdisjoint({os.getpid()})
