"""MNIST and Fashion-MNIST from their idx files (LeCun et al. 1998; Xiao et al. 2017, arXiv 1708.07747).

An idx file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), the dimensions
as big-endian uint32, then the values big-endian. Files may be gzipped (``.gz``) or not. Images come back as
(N, 1, 28, 28) float32 in [0, 1].
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from depthlab.data.dataset import Dataset
from depthlab.data.download import FileOptions
from depthlab.data.splits import make_splits
from depthlab.errors import DepthlabError

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def parse_idx(payload: bytes, source: str) -> np.ndarray:
    """Decode the bytes of one (uncompressed) idx file, checking the magic number and the size."""
    if len(payload) < 4 or payload[0] != 0 or payload[1] != 0 or payload[2] not in IDX_TYPES:
        raise DepthlabError(f"{source}: not an idx file (bad magic number {payload[:4].hex() or 'empty'})")
    dtype, ndim = IDX_TYPES[payload[2]], payload[3]
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise DepthlabError(f"{source}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", payload[4:header])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(payload) != expected:
        raise DepthlabError(
            f"{source}: idx file of {len(payload)} bytes, expected {expected} for shape "
            f"{shape} (truncated or corrupt)"
        )
    return np.frombuffer(payload, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file, gunzipping it when it is gzipped."""
    payload = path.read_bytes()
    if payload[:2] == b"\x1f\x8b":
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError, zlib.error) as err:
            raise DepthlabError(f"{path}: corrupt or truncated gzip ({err})") from None
    return parse_idx(payload, str(path))


def find_idx(root: Path, stem: str, name: str) -> Path:
    """The file for ``stem`` under ``root``: plain or .gz, with a '-' or '.' before 'idx'."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DepthlabError(
        f"no {stem}[.gz] in {root}: run `depthlab data fetch {name}`, put the four idx "
        "files there, or pass root=DIR"
    )


def load_idx_dataset(name: str, options: FileOptions, seed: int) -> Dataset:
    """The four idx files under the data set's root as a Dataset of (N, 1, 28, 28) images, 10 classes."""
    root = options.root_path(name)
    arrays = {split: read_idx(find_idx(root, stem, name)) for split, stem in IDX_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DepthlabError(f"{root}: {split} images {x.shape} and labels {y.shape} do not match")
    as_images = lambda x: torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)  # noqa: E731
    as_labels = lambda y: torch.from_numpy(y.astype(np.int64))  # noqa: E731
    return make_splits(
        name,
        as_images(arrays["x_train"]),
        as_labels(arrays["y_train"]),
        as_images(arrays["x_test"]),
        as_labels(arrays["y_test"]),
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=10,
        meta={"source": str(root)},
    )


def load_mnist(options: FileOptions, seed: int) -> Dataset:
    """MNIST from idx files: 60,000 train / 10,000 test, (N, 1, 28, 28) in [0, 1]."""
    return load_idx_dataset("mnist", options, seed)


def load_fashion_mnist(options: FileOptions, seed: int) -> Dataset:
    """Fashion-MNIST from idx files: 60,000 train / 10,000 test, (N, 1, 28, 28) in [0, 1]."""
    return load_idx_dataset("fashion_mnist", options, seed)
