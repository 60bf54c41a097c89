"""Two studies pointed at one output folder: the second is refused with one clear line while the first holds
the folder's lock, the first finishes untouched, and reading the results (``--report-only``) is safe
meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from depthlab.study.spec import run_hash
from depthlab.study.store import Store
from faults.server import SCRIPT, wait_for_phase
from faults.tiny_study import tiny_specs

RUNS = 6


@pytest.mark.slow
def test_a_second_study_on_a_busy_folder_is_refused_and_the_first_finishes_intact(tmp_path):
    hold = tmp_path / "hold"  # the first study waits at its first run until the test removes this
    hold.touch()
    request = json.dumps({"out": str(tmp_path), "runs": RUNS, "delay": 0.15, "hold": str(hold)})
    first = subprocess.Popen([sys.executable, str(SCRIPT), request], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for_phase(tmp_path / "phases.log", ("train",), 0, 1, first.pid) == "train"  # lock held
        second = subprocess.run(
            [sys.executable, "-m", "depthlab.cli", "study", "depth", "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        reader = subprocess.run(
            [sys.executable, "-m", "depthlab.cli", "study", "depth", "--report-only", "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.poll() is None, "the first study must still be running for this test to mean anything"
    finally:
        hold.unlink()
        assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert f"is in use by another depthlab study (pid {first.pid})" in second.stderr
    assert reader.returncode == 0, reader.stderr  # reading while another process writes is allowed
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(tmp_path) as store:
        assert store.count() == RUNS  # the refused study added nothing
        rows = store.get_many(run_hash(s) for s in tiny_specs(RUNS))
    assert {r["status"] for r in rows.values()} == {"ok"} and len(rows) == RUNS
