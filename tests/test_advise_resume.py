"""A killed advise resumes: the rerun reuses every stored piece (none is trained again) and ends with the
same answer as an advise that was never interrupted."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import depthlab

OPTIONS = {
    "model_options": {"width": 8},
    "depths": (1, 2, 3, 4),
    "steps": 300,
    "seeds": 3,
    "finalists": 2,
    "probe_steps": 2,
    "train": {"lr": 0.01, "batch_size": 64},
    "quiet": True,
}
SCRIPT = (
    "import sys, torch; torch.set_num_threads(1); import depthlab; "
    "depthlab.advise('spirals', 'mlp', out=sys.argv[1], **{opts})"
)


def stored(db) -> dict[str, tuple[str, float]]:
    """hash -> (kind of piece, finished_at) of every stored piece."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT hash, spec, finished_at FROM runs").fetchall()
    except sqlite3.OperationalError:  # the table is being created
        return {}
    return {h: (json.loads(spec)["advise"], at) for h, spec, at in rows}


def test_a_killed_advise_resumes_without_redoing_finished_work(tmp_path):
    out = tmp_path / "killed"
    db = out / "results.sqlite"
    code = SCRIPT.format(opts=repr(OPTIONS))
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], env={**os.environ, "PYTHONHASHSEED": "0"})
    try:
        deadline = time.monotonic() + 240
        while not any(kind == "rung" for kind, _ in stored(db).values()) and time.monotonic() < deadline:
            assert proc.poll() is None, "the advise ended before it could be killed"
            time.sleep(0.05)
        assert proc.poll() is None, "the advise ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = stored(db)
    assert not (out / "advice.json").exists()  # killed mid-advise: nothing half-written
    assert {"latency", "probe", "rung"} <= {kind for kind, _ in before.values()}

    resumed = depthlab.advise("spirals", "mlp", out=str(out), **OPTIONS)
    after = stored(db)
    assert resumed.resumed == len(before)  # every finished piece was read back...
    assert all(after[h] == before[h] for h in before)  # ...and none was trained (and written) again
    assert len(after) > len(before)

    fresh = depthlab.advise("spirals", "mlp", out=str(tmp_path / "fresh"), **OPTIONS)
    assert fresh.resumed == 0
    a = json.loads((out / "advice.json").read_text())
    b = json.loads((tmp_path / "fresh" / "advice.json").read_text())
    assert a["recommended_depth"] == b["recommended_depth"] and a["steps_used"] == b["steps_used"]
    assert [c["val_acc_per_seed"] for c in a["candidates"]] == [
        c["val_acc_per_seed"] for c in b["candidates"]
    ]
