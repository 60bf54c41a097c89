"""The study runner and store with a stand-in run function: resume, no duplicates, failures, workers, lock."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from depthlab.errors import DepthlabError
from depthlab.study.lock import DirLock
from depthlab.study.runner import execute
from depthlab.study.spec import expand, run_hash
from depthlab.study.store import Store


def fake_run(spec):
    """Stand-in for training: accuracy 1/depth; depth 13 raises; depth 99 diverges; sleeps ``sleep`` s; with
    ``meet`` (a folder), waits until two processes have each started a run there."""
    depth = spec["model"]["depth"]
    time.sleep(spec.get("sleep", 0.0))
    if "meet" in spec:
        meet_another_process(Path(spec["meet"]))
    if depth == 13:
        raise RuntimeError("unlucky depth")
    if depth == 99:
        return {"status": "diverged", "metrics": {"train_loss": float("nan")}}
    return {"status": "ok", "metrics": {"train_acc": 1.0 / depth, "pid": os.getpid()}, "fit_seconds": 0.0}


def meet_another_process(folder: Path, timeout: float = 120.0) -> None:
    """Leave this process's mark in ``folder`` and wait for a second process's: a run that waits here cannot
    finish before the other worker has started one, however slow the machine (no race on timing)."""
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + timeout
    while len(list(folder.iterdir())) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("no second worker process started a run")
        time.sleep(0.01)


def grid(depths, seeds=(0,), **extra):
    base = {"task": "fake", "model": {"name": "mlp"}, "study": "demo", **extra}
    return expand(base, {"model.depth": list(depths), "seed": list(seeds)})


def test_results_are_stored_by_hash_with_failures_and_divergence_as_results(tmp_path):
    specs = grid([1, 2, 13, 99], seeds=(0, 1))
    summary = execute(specs, tmp_path, run_fn=fake_run, quiet=True)
    assert summary.total == 8 and summary.skipped == 0
    assert summary.statuses == {"ok": 4, "failed": 2, "diverged": 2}
    with Store(tmp_path) as store:
        rows = store.get_many(run_hash(s) for s in specs)
    assert len(rows) == 8
    two = rows[run_hash(specs[2])]  # depth 2, seed 0
    assert two["status"] == "ok" and two["metrics"]["train_acc"] == pytest.approx(0.5)
    assert two["spec"]["tags"] == {"depth": 2, "seed": 0}
    failed = rows[run_hash(specs[4])]
    assert failed["status"] == "failed" and "unlucky depth" in failed["error"]
    assert failed["env"]["torch"]  # the environment travels with every result


def test_rerun_skips_finished_runs_and_retry_failed_redoes_only_failures(tmp_path):
    specs = grid([1, 13])
    execute(specs, tmp_path, run_fn=fake_run, quiet=True)
    again = execute(specs, tmp_path, run_fn=fake_run, quiet=True)
    assert again.skipped == 2 and again.ran == 0
    retried = execute(specs, tmp_path, run_fn=fake_run, quiet=True, retry_failed=True)
    assert retried.skipped == 1 and retried.statuses == {"failed": 1}
    with Store(tmp_path) as store:
        assert store.count() == 2


def test_tags_do_not_change_the_hash_but_configuration_does():
    a, b = grid([4]), grid([4])
    b[0]["tags"] = {"anything": "else"}
    assert run_hash(a[0]) == run_hash(b[0])
    assert run_hash(a[0]) != run_hash(grid([4], seeds=(1,))[0])
    assert run_hash(a[0]) != run_hash(grid([5])[0])


def test_two_workers_run_in_separate_processes_and_store_everything(tmp_path):
    (tmp_path / "meet").mkdir()
    specs = grid([1, 2, 3, 4], meet=str(tmp_path / "meet"))
    summary = execute(specs, tmp_path / "out", run_fn=fake_run, workers=2, quiet=True)
    assert summary.statuses == {"ok": 4}
    with Store(tmp_path / "out") as store:
        rows = store.get_many(run_hash(s) for s in specs).values()
    pids = {row["metrics"]["pid"] for row in rows}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(row["env"]["threads"] == 1 for row in rows)  # one intra-op thread per run, always


TIMINGS = {"cpu_seconds", "wall_time", "samples_per_sec", "time", "fit_seconds", "run_seconds", "finished_at"}
PROCESS = {"env", "pid"}


def without_timings(value):
    """A stored row with every measured time (and the process) left out: what must not depend on workers."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS | PROCESS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def test_stored_numbers_are_identical_with_one_and_two_workers(tmp_path):
    # real training runs (BatchNorm MLPs wide enough for multi-threaded kernels), once inline and once in a
    # pool of two: a verdict is a function of the seeds, so every stored number must be bit-equal
    base = {
        "study": "determinism",
        "model": {"name": "mlp", "width": 96, "norm": "batch"},
        "data": {"name": "mnist1d", "num_samples": 1500},
        "train": {"steps": 40, "lr": 3e-3, "batch_size": 128, "schedule": "cosine", "eval_train": True},
    }
    specs = expand(base, {"model.depth": [3, 6], "seed": [0, 1]})
    stored = {}
    for workers in (1, 2):
        out = tmp_path / f"workers{workers}"
        execute(specs, out, workers=workers, quiet=True)
        with Store(out) as store:
            stored[workers] = without_timings(store.get_many(run_hash(s) for s in specs))
    assert all(row["status"] == "ok" for row in stored[1].values())
    assert stored[1] == stored[2]


def test_a_second_runner_on_a_locked_directory_is_refused(tmp_path):
    with DirLock(tmp_path):
        with pytest.raises(DepthlabError, match=f"in use by another depthlab study \\(pid {os.getpid()}\\)"):
            execute(grid([1]), tmp_path, run_fn=fake_run, quiet=True)
    assert execute(grid([1]), tmp_path, run_fn=fake_run, quiet=True).ran == 1  # released on exit


def test_unknown_backend_and_bad_workers_are_one_clear_error(tmp_path):
    with pytest.raises(DepthlabError, match="unknown backend 'rya'.*did you mean 'ray'"):
        execute(grid([1]), tmp_path, run_fn=fake_run, backend="rya", quiet=True)
    with pytest.raises(DepthlabError, match="workers=0"):
        execute(grid([1]), tmp_path, run_fn=fake_run, workers=0, quiet=True)


SLEEP = 0.15
_KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_study_runner import SLEEP, fake_run, grid
    from depthlab.study.runner import execute
    execute(grid(range(1, 13), sleep=SLEEP), {out!r}, run_fn=fake_run, quiet=True)
""")


def test_kill_9_mid_study_loses_no_finished_run_and_rerun_completes_without_duplicates(tmp_path):
    script = _KILL_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline and _count(tmp_path) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(tmp_path) as store:
        before = {k: row["finished_at"] for k, row in store.get_many(_keys()).items()}
    assert 3 <= len(before) < 12
    summary = execute(grid(range(1, 13), sleep=SLEEP), tmp_path, run_fn=fake_run, quiet=True)
    assert summary.skipped == len(before) and summary.ran == 12 - len(before)
    with Store(tmp_path) as store:
        after = store.get_many(_keys())
        assert store.count() == 12
    assert all(after[k]["finished_at"] == t for k, t in before.items())  # finished runs were not redone


def _keys() -> list[str]:
    return [run_hash(s) for s in grid(range(1, 13), sleep=SLEEP)]


def _count(directory: Path) -> int:
    path = directory / "results.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
