"""Options of the file-based data sets: where their files are (default ``<cache>/data/<name>``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from depthlab.data.cache import data_root
from depthlab.data.options import SplitOptions


@dataclass
class FileOptions(SplitOptions):
    """``root``: the folder holding the data set's files; none means ``<cache>/data/<name>``."""

    root: str | None = None

    def root_path(self, name: str) -> Path:
        """The folder to read ``name`` from."""
        return Path(self.root).expanduser() if self.root else data_root(name)
