"""A tiny study for fault tests, and a fork server that runs it in child processes the tests can ``kill -9``.

The study: a few MLPs (depth 1-3) on noisy XOR, checkpointing every epoch into ``ckpt/<i>`` and resuming from
there, so a kill can land while training, while a checkpoint is written, while a result row is committed and
while the report is written.

Fault windows: with ``delay > 0`` the child widens each write path by sleeping *inside* it (after the temp
file is complete but before the rename; after the INSERT but before the COMMIT) and logs ``begin <phase>`` /
``end <phase>`` lines to ``phases.log``. The sleeps are patched in from here, so the library itself carries
no fault hook at all.

The fork server (``python tiny_study.py serve``) imports torch and depthlab once, then forks one child per
request: a kill test pays the import once instead of once per kill.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

PHASES = ("train", "checkpoint", "db", "report")


def tiny_specs(runs: int = 6, epochs: int = 4) -> list[dict[str, Any]]:
    """``runs`` tiny MLP trainings on noisy XOR that checkpoint every epoch and resume from there."""
    specs = []
    for i in range(runs):
        depth = 1 + i % 3
        train = {
            "epochs": epochs,
            "batch_size": 32,
            "lr": 0.01,
            "checkpoint_dir": f"ckpt/{i}",
            "resume": True,
        }
        specs.append(
            {
                "task": "train",
                "study": "tiny",
                "seed": i // 3,
                "model": {"name": "mlp", "depth": depth, "width": 8},
                "data": {"name": "xor", "replicas": 32, "noise": 0.1},
                "train": train,
                "tags": {"depth": depth, "seed": i // 3},
            }
        )
    return specs


def tiny_plan(runs: int = 6, name: str = "tiny", claim: str = "tiny nets learn noisy xor"):
    """A study plan (as ``write_report`` takes it) over :func:`tiny_specs`."""
    from depthlab import stats
    from depthlab.study.plan import Plan
    from depthlab.study.presets.base import Finding, Study, finished, mean_by
    from depthlab.study.presets.plotting import lines

    def analyze(rows):
        accuracy = mean_by(rows, "depth", "test_acc")
        outcome = stats.HELD if finished(rows) else stats.INCONCLUSIVE
        return Finding(outcome, f"test accuracy by depth: {accuracy}")

    def plot(rows, figure):
        lines(figure.add_subplot(1, 1, 1), rows, "depth", "test_acc")

    specs = tiny_specs(runs)
    study = Study(name, claim, "none", lambda size, data: specs, analyze, plot, default_data="xor")
    return [Plan(study, "xor", "", specs)]


class _Log:
    """Appends ``begin``/``end`` phase lines to a file, one ``write`` each (visible at once to a reader)."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def __call__(self, line: str) -> None:
        os.write(self.fd, f"{line}\n".encode())


class _SlowOs:
    """Stands in for the ``os`` module inside depthlab.atomic: ``replace`` waits before renaming.

    Every file write goes through there; writes into a run's ``ckpt/`` folder are the checkpoint phase,
    the rest (report, CSV, plots) the report phase.
    """

    def __init__(self, log: _Log, delay: float):
        self._log, self._delay = log, delay

    def replace(self, src, dst):
        phase = "checkpoint" if "ckpt" in Path(dst).parts else "report"
        self._log(f"begin {phase}")
        time.sleep(self._delay)
        os.replace(src, dst)
        self._log(f"end {phase}")

    def __getattr__(self, name):
        return getattr(os, name)


class _SlowConnection:
    """Wraps the store's SQLite connection: after an INSERT, waits before the transaction commits."""

    def __init__(self, db, log: _Log, delay: float):
        self._db, self._log, self._delay = db, log, delay

    def execute(self, sql, *args):
        result = self._db.execute(sql, *args)
        if sql.lstrip().upper().startswith("INSERT"):
            self._log("begin db")
            time.sleep(self._delay)
        return result

    def __enter__(self):
        return self._db.__enter__()

    def __exit__(self, *exc):
        out = self._db.__exit__(*exc)
        self._log("end db")
        return out

    def __getattr__(self, name):
        return getattr(self._db, name)


def install_faults(log_path: Path, delay: float) -> None:
    """Widen every write path of this process by ``delay`` seconds; log when each window opens and closes."""
    from depthlab import atomic
    from depthlab.study import store

    log = _Log(log_path)
    atomic.os = _SlowOs(log, delay)
    plain_init = store.Store.__init__

    def slow_init(self, directory):
        plain_init(self, directory)
        self._db = _SlowConnection(self._db, log, delay)

    store.Store.__init__ = slow_init
    return log


def run_study(
    out: str | Path, runs: int = 6, delay: float = 0.0, workers: int = 1, hold: str | None = None
) -> None:
    """Run (or resume) the tiny study in ``out`` and write its report; the working directory becomes out.
    With ``hold`` (a file path), each run waits after ``begin train`` while that file exists: a test keeps
    the study running, its lock held, for as long as it needs, whatever the machine's speed."""
    import torch

    from depthlab.study import backends, runner
    from depthlab.study.report import write_report
    from depthlab.study.tasks import run_spec

    os.chdir(out)  # checkpoint_dir is relative: the same specs (and hashes) in every output directory
    torch.set_num_threads(1)  # tiny nets: more threads only add contention
    backends.set_threads = lambda threads: torch.set_num_threads(1)
    log = install_faults(Path("phases.log"), delay) if delay > 0 else (lambda line: None)

    def logged_run(spec):
        log("begin train")
        while hold and Path(hold).exists():
            time.sleep(0.05)
        result = run_spec(spec)
        log("end train")
        return result

    plans = tiny_plan(runs)
    runner.execute(plans[0].specs, ".", run_fn=logged_run, workers=workers, quiet=True)
    write_report(plans, ".")


def serve() -> None:
    """Fork server: each stdin line holds ``run_study`` arguments as JSON; replies ``pid N``, ``exit C``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure  # noqa: F401 - imported once here, shared by every child
    import torch

    import depthlab.study.report  # noqa: F401
    import depthlab.study.tasks  # noqa: F401

    torch.set_num_threads(1)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_study(**request)
            except BaseException as err:  # report, never return into the server loop
                print(f"child error: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
                code = 1
            os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        run_study(**json.loads(sys.argv[1]))
