"""CIFAR-10 and CIFAR-100 from the python-pickle release (Krizhevsky 2009, "Learning Multiple Layers of
Features from Tiny Images"), read with a restricted unpickler.

Accepted layouts under ``root``: the release tarball (``cifar-10-python.tar.gz`` /
``cifar-100-python.tar.gz``), its extracted folder (``cifar-10-batches-py/`` / ``cifar-100-python/``), or the
batch files themselves (``data_batch_1..5`` + ``test_batch``; ``train`` + ``test``). Images come back as (N,
3, 32, 32) float32 in [0, 1].

Pickle runs whatever callables a file names, so an ordinary ``pickle.load`` on a downloaded file is arbitrary
code execution. ``safe_unpickle`` resolves only the few globals that pickled numpy arrays need and refuses
everything else with a DepthlabError naming the file and the refused global.
"""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from depthlab.data.dataset import Dataset
from depthlab.data.download import FileOptions
from depthlab.data.splits import make_splits
from depthlab.errors import DepthlabError

try:  # numpy >= 2 moved the modules; pickles name either path
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer


@dataclass(frozen=True)
class CifarLayout:
    name: str
    archive: str
    folder: str
    train: tuple[str, ...]
    test: str
    label_keys: dict[str, str]
    num_classes: dict[str, int]


CIFAR10 = CifarLayout(
    "cifar10",
    "cifar-10-python.tar.gz",
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test_batch",
    {"fine": "labels"},
    {"fine": 10},
)
CIFAR100 = CifarLayout(
    "cifar100",
    "cifar-100-python.tar.gz",
    "cifar-100-python",
    ("train",),
    "test",
    {"fine": "fine_labels", "coarse": "coarse_labels"},
    {"fine": 100, "coarse": 20},
)


def read_members(root: Path, layout: CifarLayout, names: list[str]) -> dict[str, tuple[bytes, str]]:
    """name -> (raw bytes, where it came from), from the extracted folder, loose files or the tarball."""
    for folder in (root / layout.folder, root):
        if all((folder / name).is_file() for name in names):
            return {name: ((folder / name).read_bytes(), str(folder / name)) for name in names}
    archive = root / layout.archive
    if archive.is_file():
        return _read_from_tarball(archive, layout, names)
    raise DepthlabError(
        f"no {layout.name} files in {root}: run `depthlab data fetch {layout.name}`, or put "
        f"{layout.archive} (or its extracted {layout.folder}/) there, or pass root=DIR"
    )


def _read_from_tarball(archive: Path, layout: CifarLayout, names: list[str]) -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                base = Path(member.name).name
                if member.isfile() and base in names and Path(member.name).parent.name in (layout.folder, ""):
                    found[base] = (tar.extractfile(member).read(), f"{archive}:{member.name}")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        problem = f"{type(err).__name__}: {err}"
        raise DepthlabError(f"{archive}: corrupt or truncated archive ({problem})") from None
    missing = sorted(set(names) - set(found))
    if missing:
        raise DepthlabError(f"{archive}: archive lacks {', '.join(missing)} (is it the python version?)")
    return found


def decode_batch(payload: bytes, source: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch dict -> (N, 3, 32, 32) uint8 images and int64 labels, checked."""
    batch = safe_unpickle(payload, source)
    if not isinstance(batch, dict) or "data" not in batch or label_key not in batch:
        raise DepthlabError(f"{source}: expected a dict with 'data' and {label_key!r} (a CIFAR batch)")
    data, labels = np.asarray(batch["data"]), np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DepthlabError(
            f"{source}: data of shape {data.shape} with {len(labels)} labels; expected "
            "(N, 3072) uint8 and N labels"
        )
    return data.astype(np.uint8).reshape(-1, 3, 32, 32), labels  # rows are R (1024), G, B planes


def load_cifar_arrays(root: Path, layout: CifarLayout, label_mode: str):
    """(x_train, y_train, x_test, y_test) as numpy arrays from any accepted layout under ``root``."""
    members = read_members(root, layout, [*layout.train, layout.test])
    key = layout.label_keys[label_mode]
    parts = [decode_batch(*members[name], key) for name in layout.train]
    x_test, y_test = decode_batch(*members[layout.test], key)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test


def _to_dataset(name: str, arrays, options: FileOptions, seed: int, num_classes: int) -> Dataset:
    x_train, y_train, x_test, y_test = arrays
    as_float = lambda x: torch.from_numpy(x).float().div_(255.0)  # noqa: E731
    return make_splits(
        name,
        as_float(x_train),
        torch.from_numpy(y_train),
        as_float(x_test),
        torch.from_numpy(y_test),
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=num_classes,
        meta={"source": "python-pickle release"},
    )


@dataclass
class Cifar100Options(FileOptions):
    """``label_mode``: the 100 fine classes or the 20 coarse superclasses."""

    label_mode: Literal["fine", "coarse"] = "fine"


def load_cifar10(options: FileOptions, seed: int) -> Dataset:
    """CIFAR-10: 50,000 train / 10,000 test, (N, 3, 32, 32) in [0, 1], 10 classes."""
    arrays = load_cifar_arrays(options.root_path("cifar10"), CIFAR10, "fine")
    return _to_dataset("cifar10", arrays, options, seed, 10)


def load_cifar100(options: Cifar100Options, seed: int) -> Dataset:
    """CIFAR-100: 50,000 train / 10,000 test, (N, 3, 32, 32) in [0, 1], 100 fine or 20 coarse classes."""
    arrays = load_cifar_arrays(options.root_path("cifar100"), CIFAR100, options.label_mode)
    return _to_dataset("cifar100", arrays, options, seed, CIFAR100.num_classes[options.label_mode])


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in _NUMPY_MODULES},
    **{(module, "scalar"): scalar for module in _NUMPY_MODULES},
    # pickle protocol 5 rebuilds arrays from a buffer, a dtype and a shape (no code of the file's choosing)
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 writes bytes under pickle protocol 2
}


class _ArrayUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BufferedIOBase, source: str):
        # CIFAR was pickled by Python 2; latin1 maps its byte strings 1:1 (what numpy needs to rebuild arrays)
        super().__init__(stream, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise DepthlabError(
                f"{self.source}: refusing to unpickle {module}.{name} (only numpy arrays and "
                "plain containers are allowed in a data file)"
            )
        return _ALLOWED[(module, name)]


def safe_unpickle(payload: bytes, source: str) -> Any:
    """Unpickle ``payload`` (from file ``source``) allowing only numpy arrays and builtin containers."""
    try:
        return _ArrayUnpickler(io.BytesIO(payload), source).load()
    except DepthlabError:
        raise
    except Exception as err:  # truncated or corrupt: EOFError, UnpicklingError, ValueError, ...
        raise DepthlabError(f"{source}: not a readable pickle ({type(err).__name__}: {err})") from None
