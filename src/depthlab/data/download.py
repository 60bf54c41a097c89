"""Where file-based data live and how they get there: the cache folder, the data sets' ``root`` option, and a
download from the canonical source checked against a pinned SHA-256.

The cache directory is ``$DEPTHLAB_CACHE``, else ``$XDG_CACHE_HOME/depthlab``, else ``~/.cache/depthlab``; a
file-based data set reads ``<cache>/data/<name>`` unless its ``root`` option says otherwise. Cached arrays are
``.npz`` read back with ``allow_pickle=False``: a cache file never runs code.

Every download is streamed to a temp file beside its destination, hashed on the way, and renamed into place
only when the hash matches; a tarball is extracted into a temp folder (members checked: no absolute paths, no
'..', no links) that is renamed into place, so a kill leaves no half file. Offline, the error says which files
to put where. SHA-256 values are the published ones used by the major loaders (Keras/TFDS for CIFAR,
torchvision's prototype datasets for the idx files); each was cross-checked in more than one independent
project.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from depthlab import atomic
from depthlab.data.splits import SplitOptions
from depthlab.errors import DepthlabError, unknown


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


@dataclass
class FileOptions(SplitOptions):
    """``root``: the folder holding the data set's files; none means ``<cache>/data/<name>``."""

    root: str | None = None

    def root_path(self, name: str) -> Path:
        """The folder to read ``name`` from."""
        return Path(self.root).expanduser() if self.root else data_root(name)


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str
    urls: tuple[str, ...]  # tried in order (mirrors)
    extract: bool = False


_TORONTO = "https://www.cs.toronto.edu/~kriz/"
_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_FASHION_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)


def _idx_files(mirrors: tuple[str, ...], sums: dict[str, str]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, sha, tuple(m + name for m in mirrors)) for name, sha in sums.items())


SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "cifar10": (
        RemoteFile(
            "cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            (_TORONTO + "cifar-10-python.tar.gz",),
            extract=True,
        ),
    ),
    "cifar100": (
        RemoteFile(
            "cifar-100-python.tar.gz",
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
            (_TORONTO + "cifar-100-python.tar.gz",),
            extract=True,
        ),
    ),
    "mnist": _idx_files(
        _MNIST_MIRRORS,
        {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion_mnist": _idx_files(
        _FASHION_MIRRORS,
        {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
}


class Unreachable(DepthlabError):
    """No mirror of a file could be reached (offline, or the source moved)."""


Opener = Callable[[str], object]  # urllib.request.urlopen-like: returns a readable response


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(remote: RemoteFile, dest: Path, opener: Opener) -> None:
    """Fetch ``remote`` to ``dest`` through ``atomic`` (a temp file, renamed only once its checksum matches):
    an unreachable mirror or a mismatch leaves nothing behind."""
    errors = []
    for url in remote.urls:
        try:
            atomic.write_with(dest, lambda tmp, url=url: _fetch_checked(opener, url, tmp, remote.sha256))
            return
        except DepthlabError:  # the checksum: another mirror's copy is not to be trusted more
            raise
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"{url}: {getattr(err, 'reason', err)}")
    raise Unreachable(f"cannot download {remote.name} ({'; '.join(errors)})")


def _fetch_checked(opener: Opener, url: str, path: str, sha256: str) -> None:
    """Stream ``url`` into ``path``; raise when its SHA-256 is not ``sha256``."""
    digest = hashlib.sha256()
    with open(path, "wb") as out, opener(url) as response:
        for chunk in iter(lambda: response.read(2**20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        raise DepthlabError(
            f"{url}: SHA-256 {digest.hexdigest()} does not match the pinned {sha256}; file discarded"
        )


def safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """Members that stay inside the destination: regular files and folders, relative, no '..'."""
    members = tar.getmembers()
    for member in members:
        parts = PurePosixPath(member.name).parts
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise DepthlabError(f"{archive}: refusing to extract unsafe member {member.name!r}")
    return members


def extract(archive: Path, root: Path) -> None:
    """Extract ``archive`` into ``root`` atomically: into a temp folder first, then rename each top entry."""
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = safe_members(tar, archive)
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **kwargs)
        for entry in tmp.iterdir():
            target = root / entry.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(entry, target)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DepthlabError(f"{archive}: cannot extract ({type(err).__name__}: {err})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(name: str, root: str | Path | None = None, *, opener: Opener | None = None) -> Path:
    """Download (if missing or wrong) and extract data set ``name`` into ``root``; returns the root."""
    opener = opener or urllib.request.urlopen
    if name not in SOURCES:
        raise unknown("dataset to fetch", name, SOURCES)
    root = Path(root).expanduser() if root else data_root(name)
    root.mkdir(parents=True, exist_ok=True)
    for remote in SOURCES[name]:
        dest = root / remote.name
        if not (dest.is_file() and sha256_of(dest) == remote.sha256):
            try:
                download(remote, dest, opener)
            except Unreachable as err:
                by_hand = f"to install {name} by hand, put {_listing(SOURCES[name])} in {root}"
                raise DepthlabError(f"{err}; {by_hand} and run this again") from None
        if remote.extract:
            extract(dest, root)
    return root


def _listing(remotes: tuple[RemoteFile, ...]) -> str:
    return ", ".join(f"{r.name} (sha256 {r.sha256[:12]}..., from {r.urls[0]})" for r in remotes)
