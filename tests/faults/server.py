"""Drive ``tiny_study.py serve`` from a test: start a study in a fresh child process, kill it, wait for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("tiny_study.py")


class StudyServer:
    """A fork server holding torch and depthlab imported; each ``start`` forks one study child."""

    def __init__(self):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def start(self, **request) -> int:
        """Fork a child running ``run_study(**request)``; returns its pid."""
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return int(self._reply("pid"))

    def wait(self) -> int:
        """The last child's exit code (``-9`` when it was killed)."""
        return int(self._reply("exit"))

    def run(self, **request) -> int:
        """Run a study child to the end; returns its exit code."""
        self.start(**request)
        return self.wait()

    def _reply(self, word: str) -> str:
        line = self.proc.stdout.readline()
        if not line.startswith(word + " "):
            raise RuntimeError(f"fork server said {line!r} (expected {word!r}); did it crash?")
        return line.split()[1]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (the server reaps its children at once)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill(pid: int) -> None:
    """SIGKILL ``pid`` if it still runs."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for_phase(
    path: Path, phases: tuple[str, ...], skip: int, nth: int, pid: int, timeout: float = 60.0
) -> str | None:
    """Wait until ``begin <phase>`` for one of ``phases`` appeared ``nth`` times in ``path`` (after its first
    ``skip`` lines); returns that phase, or None if the child exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines()[skip:] if path.exists() else []
        for phase in phases:
            if lines.count(f"begin {phase}") >= nth:
                return phase
        if not alive(pid):
            return None
        time.sleep(0.003)
    raise TimeoutError(f"none of {phases} began {nth} times in {path} within {timeout}s")


def log_length(path: Path) -> int:
    """Number of lines in the phase log so far."""
    return len(path.read_text().splitlines()) if path.exists() else 0


def phase_at_kill(path: Path, skip: int) -> str:
    """The innermost phase open at the end of the trial's log (training encloses checkpoints), or between."""
    open_phases: list[str] = []
    for line in path.read_text().splitlines()[skip:]:
        word, _, phase = line.partition(" ")
        if word == "begin":
            open_phases.append(phase)
        elif open_phases and open_phases[-1] == phase:
            open_phases.pop()
    return open_phases[-1] if open_phases else "between"
