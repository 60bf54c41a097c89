"""Where generated and downloaded data live; atomic writes (temp file + rename) so a kill leaves no half file.

The cache directory is ``$DEPTHLAB_CACHE``, else ``$XDG_CACHE_HOME/depthlab``, else ``~/.cache/depthlab``.
Arrays are stored as ``.npz`` and read back with ``allow_pickle=False``: a cache file never runs code.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from depthlab.errors import DepthlabError


def cache_dir() -> Path:
    """The user cache directory for depthlab (not created here)."""
    if os.environ.get("DEPTHLAB_CACHE"):
        return Path(os.environ["DEPTHLAB_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "depthlab"
    return Path.home() / ".cache" / "depthlab"


def data_root(name: str) -> Path:
    """The default folder of a file-based data set: ``<cache>/data/<name>``."""
    return cache_dir() / "data" / name


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temp file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save named arrays as one ``.npz`` file, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None when it is missing or unreadable (the caller regenerates)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def require(condition: bool, path: Path | str, problem: str) -> None:
    """Raise a DepthlabError naming the file unless ``condition`` holds."""
    if not condition:
        raise DepthlabError(f"{path}: {problem}")
