"""Atomic file writes: write a temp file in the target's directory, fsync, rename over the target.

A reader (or a crash) sees the old file or the new one, never half of one; two processes writing the same file
leave one complete version (the last rename wins).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name lets remove_stale_temps tell a crashed writer's leftover from a live one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    return write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete the temp files that writers killed mid-write (``kill -9``) left in ``directory``; returns
    them."""
    removed = []
    for tmp in Path(directory).glob(".*.tmp"):
        pid = tmp.name.split(".")[-3]
        if not (pid.isdigit() and _running(int(pid))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
