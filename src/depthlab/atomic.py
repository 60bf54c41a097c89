"""Atomic file writes: write a temp file in the target's directory, fsync, rename over the target.

A reader (or a crash) sees the old file or the new one, never half of one; two processes writing the same file
leave one complete version (the last rename wins). Results databases aside, every file depthlab writes
(reports, checkpoints, data caches) goes through here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# mkstemp creates files readable by their owner only; a report or checkpoint should get the usual permissions.
_MODE = _default_mode()


def write_with(path: str | Path, write: Callable[[str], None]) -> Path:
    """Atomically replace ``path`` with what ``write(temp_path)`` writes to the temp path it is given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name lets remove_stale_temps tell a crashed writer's leftover from a live one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return write_with(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically replace ``path`` with ``data`` as JSON."""
    return write_text(path, json.dumps(data))


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete the temp files that writers killed mid-write (``kill -9``) left in ``directory``."""
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
