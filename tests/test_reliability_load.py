"""Load: a study of 500 tiny runs on 2 worker processes completes, and the driver's peak memory does not grow
with the number of finished runs (each result holds 64 KB: kept in memory, 400 more runs would add 25 MB)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "faults" / "load_study.py"
GROWTH_LIMIT_KB = 8 * 1024  # far below the 400 x 64 KB = 25 MB that keeping results would cost


def _study(out: Path, runs: int) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), str(runs), "2"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_500_tiny_runs_on_2_workers_complete_with_a_peak_memory_that_does_not_grow_with_the_runs(tmp_path):
    small, large = _study(tmp_path / "small", 100), _study(tmp_path / "large", 500)
    assert small["statuses"] == {"ok": 100} and large["statuses"] == {"ok": 500}
    with sqlite3.connect(tmp_path / "large" / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT hash) FROM runs").fetchone() == (500, 500)
        stored = db.execute("SELECT SUM(LENGTH(diagnostics)) FROM runs").fetchone()[0]
    assert stored >= 500 * 64 * 1024  # the blobs really travelled to the database
    assert large["peak_kb"] - small["peak_kb"] < GROWTH_LIMIT_KB, (small, large)
