"""Where generated and downloaded data live; atomic writes (temp file + rename) so a kill leaves no half file.

The cache directory is ``$DEPTHLAB_CACHE``, else ``$XDG_CACHE_HOME/depthlab``, else ``~/.cache/depthlab``.
Arrays are stored as ``.npz`` and read back with ``allow_pickle=False``: a cache file never runs code.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from depthlab import atomic


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


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save named arrays as one ``.npz`` file, atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:  # a path without .npz would get one appended by numpy
            np.savez(handle, **arrays)

    atomic.write_with(path, write)


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None when it is missing or unreadable (the caller regenerates)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
