"""An exclusive lock on a study directory, so two runners never train the same runs twice.

The lock is ``fcntl.flock`` on ``DIR/.lock``: the operating system drops it when the holder exits for any
reason, ``kill -9`` included, so a stale lock cannot outlive its process. A second runner on a locked
directory fails at once with a DepthlabError naming the holder's pid (reading the results, e.g. ``depthlab
study --report-only``, needs no lock: SQLite and the atomic report writes make that safe).
"""

from __future__ import annotations

import os
from pathlib import Path

from depthlab.errors import DepthlabError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; SQLite still keeps the database consistent
    fcntl = None


class DirLock:
    """Context manager holding an exclusive, non-blocking lock on ``directory``."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> DirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise DepthlabError(
                    f"study directory {str(self.path.parent)!r} is in use by another depthlab "
                    f"study (pid {holder}); wait for it or pass another --out"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
