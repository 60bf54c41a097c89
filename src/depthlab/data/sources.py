"""A user's own data given by path: telling a path from a registered name, and the content hash of a source.

A name that is not a registered data set is read as a path when it names an existing file or folder, or looks
like one (a path separator or a known suffix), so a typo in a registered name still gets "did you mean".
The sha256 of a file (or, for an image folder, of its file names and sizes) is what studies key runs on, so an
edited file reruns; it is cached per (path, size, mtime) so a study hashes each file once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from depthlab.errors import DepthlabError

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".csv.gz", ".tsv.gz", ".parquet", ".pq")
ARRAY_SUFFIXES = (".npz", ".npy")
SUFFIXES = TABLE_SUFFIXES + ARRAY_SUFFIXES
_HASHES: dict[tuple[str, int, int], str] = {}


def looks_like_path(name: object) -> bool:
    """Whether ``name`` is meant as a path (it exists, has a separator, or ends in a data-file suffix)."""
    if isinstance(name, Path):
        return True
    if not isinstance(name, str) or not name:
        return False
    text = name.lower()
    return os.sep in name or "/" in name or text.endswith(SUFFIXES) or Path(name).expanduser().exists()


def resolve(name: str | Path) -> Path:
    """The absolute path of a data file or folder; one that does not exist raises naming what is accepted."""
    path = Path(name).expanduser()
    if not path.exists():
        raise DepthlabError(
            f"data file {str(name)!r} does not exist (a data set name, or a path to a "
            f"{'/'.join(s.lstrip('.') for s in SUFFIXES)} file or an image folder)"
        )
    return path.resolve()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_sha256(path: Path) -> str:
    """sha256 of an image folder's relative file names and sizes (an added or replaced image changes it)."""
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{item.stat().st_size}\n".encode())
    return digest.hexdigest()


def source_sha256(path: Path) -> str:
    """The content hash of a data file or folder, cached per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = folder_sha256(path) if path.is_dir() else file_sha256(path)
    return _HASHES[key]


def check_unchanged(path: Path, expected: str | None) -> str:
    """The source's sha256; raises when ``expected`` is given and differs (the file was edited)."""
    actual = source_sha256(path)
    if expected is not None and actual != expected:
        raise DepthlabError(
            f"{path}: content changed (sha256 {actual[:12]}, expected {expected[:12]}); plan the study again"
        )
    return actual
