"""``kill -9`` at any moment loses nothing. A study killed 25 times (while training, while writing a
checkpoint, while committing a result, while writing the report, and at random moments) and resumed each time
ends with every run stored exactly once, the same numbers as an uninterrupted study, a sound database and no
temp files.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from depthlab.study.spec import run_hash
from depthlab.study.store import Store
from depthlab.train.checkpoint import load_checkpoint
from faults.server import StudyServer, kill, log_length, phase_at_kill, wait_for_phase
from faults.tiny_study import tiny_specs

RUNS = 8
EPOCHS = 4  # as in tiny_specs; 4 steps per epoch (128 xor points, batch 32)
DELAY = 0.06  # seconds each write window stays open in the killed children
# Each trial aims at the n-th opening of one phase; "random" kills after a random time instead.
TARGETS = ("train", "checkpoint", "db") * 5 + ("random",) * 5 + ("report",) * 5
TIMING_KEYS = {"time", "wall_time", "samples_per_sec", "cpu_seconds"}


def _kill_trial(server: StudyServer, out: Path, target: str, rng: random.Random) -> tuple[int, str]:
    log = out / "phases.log"
    skip = log_length(log)
    pid = server.start(out=str(out), runs=RUNS, delay=DELAY)
    if target == "random":
        time.sleep(rng.uniform(0.05, 2.5))
    else:  # the n-th opening of the target phase; once every run is stored, the report's instead
        found = wait_for_phase(log, (target, "report"), skip, rng.randint(1, 2), pid)
        time.sleep(rng.uniform(0.0, 0.6) if found == "train" else rng.uniform(0.0, 0.8 * DELAY))
    kill(pid)
    code = server.wait()
    return code, phase_at_kill(log, skip) if code == -9 else "finished"


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _results(out: Path) -> dict[str, tuple]:
    with Store(out) as store:
        rows = store.get_many(run_hash(s) for s in tiny_specs(RUNS))
        assert store.count() == len(rows)
    return {
        k: (r["status"], _without_timings(r["metrics"]), _without_timings(r["history"]))
        for k, r in rows.items()
    }


def _leftovers(out: Path) -> list[str]:
    return [str(p.relative_to(out)) for p in out.rglob("*") if p.name.endswith((".tmp", "-journal"))]


def _checkpoints_load(out: Path) -> None:
    for folder in sorted((out / "ckpt").iterdir()):
        tensors, meta = load_checkpoint(folder)  # latest.json names a complete, readable checkpoint
        assert meta["epoch"] == EPOCHS and meta["step"] == EPOCHS * 4, folder
        assert set(tensors) >= {"model.head.weight", "rng.cpu"}


@pytest.mark.slow
def test_sigkill_at_any_moment_then_resume_loses_and_duplicates_nothing(tmp_path):
    baseline, killed = tmp_path / "baseline", tmp_path / "killed"
    baseline.mkdir()
    killed.mkdir()
    server = StudyServer()
    try:
        assert server.run(out=str(baseline), runs=RUNS) == 0
        rng = random.Random(9)
        outcomes = [_kill_trial(server, killed, target, rng) for target in TARGETS]
        assert server.run(out=str(killed), runs=RUNS) == 0  # the final resume completes the study
    finally:
        server.close()

    landed = Counter(phase for _, phase in outcomes)
    assert sum(code == -9 for code, _ in outcomes) >= 20, outcomes
    for phase in ("train", "checkpoint", "db", "report"):
        assert landed[phase] >= 2, landed
    print(f"kills by phase: {dict(landed)}")
    expected = _results(baseline)
    assert len(expected) == RUNS and {s for s, _, _ in expected.values()} == {"ok"}
    assert _results(killed) == expected  # every run once, with the numbers of the uninterrupted study
    with sqlite3.connect(killed / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _leftovers(killed) == []
    _checkpoints_load(killed)
    for name in ("report.html", "results.csv", "tiny.png"):
        assert (killed / name).read_bytes() != b""
    assert (killed / "results.csv").read_text().count("\n") == RUNS + 1
