"""Builders of malformed input files: broken checkpoints, hostile or corrupt data files, a bad database."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import torch

from depthlab.train.checkpoint import save_checkpoint

CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


class MakesMarker:
    """A pickle payload whose unpickling would create ``path`` (arbitrary code, harmlessly visible)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def good_checkpoint(folder: Path) -> Path:
    """A valid one-tensor checkpoint folder (the base every broken variant starts from)."""
    save_checkpoint(folder, "step-00000001", {"model.weight": torch.ones(3)}, {"epoch": 1, "step": 1})
    return folder


def _weights(folder: Path) -> Path:
    return folder / "step-00000001.safetensors"


CHECKPOINT_DAMAGE = {
    "truncated_weights": lambda f, m: _weights(f).write_bytes(_weights(f).read_bytes()[:20]),
    "garbage_weights": lambda f, m: _weights(f).write_bytes(b"\xff" * 64),
    "empty_weights": lambda f, m: _weights(f).write_bytes(b""),
    "huge_header": lambda f, m: _weights(f).write_bytes(struct.pack("<Q", 2**60) + b"{}"),
    "pickle_as_weights": lambda f, m: _weights(f).write_bytes(pickle.dumps({"weight": MakesMarker(m)})),
    "missing_weights": lambda f, m: _weights(f).unlink(),
    "corrupt_meta": lambda f, m: (f / "step-00000001.json").write_text("{not json"),
    "corrupt_latest": lambda f, m: (f / "latest.json").write_text("{not json"),
    "latest_without_name": lambda f, m: (f / "latest.json").write_text("{}"),
    "latest_is_a_list": lambda f, m: (f / "latest.json").write_text("[1, 2]"),
    "latest_names_a_missing_step": lambda f, m: (f / "latest.json").write_text('{"name": "step-00000009"}'),
    "latest_escapes_the_folder": lambda f, m: (f / "latest.json").write_text('{"name": "../../etc/passwd"}'),
}


def broken_checkpoint(folder: Path, damage: str, marker: Path) -> Path:
    """A checkpoint folder with one kind of damage from CHECKPOINT_DAMAGE."""
    good_checkpoint(folder)
    CHECKPOINT_DAMAGE[damage](folder, marker)
    return folder


def _cifar_batch(n: int = 2, labels: list | None = None, width: int = 3072) -> dict:
    return {"data": np.zeros((n, width), np.uint8), "labels": labels if labels is not None else [0] * n}


CIFAR_DAMAGE = {
    "malicious_global": lambda m: pickle.dumps({"data": MakesMarker(m), "labels": [0]}),
    "truncated": lambda m: pickle.dumps(_cifar_batch())[:40],
    "not_a_pickle": lambda m: b"this is not a pickle",
    "wrong_image_size": lambda m: pickle.dumps(_cifar_batch(width=100)),
    "label_count_mismatch": lambda m: pickle.dumps(_cifar_batch(labels=[0, 1, 2])),
    "label_out_of_range": lambda m: pickle.dumps(_cifar_batch(labels=[0, 17])),
    "a_list_not_a_dict": lambda m: pickle.dumps([1, 2, 3]),
}


def broken_cifar10(folder: Path, damage: str, marker: Path) -> Path:
    """A CIFAR-10 folder whose every batch file has one kind of damage from CIFAR_DAMAGE."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in CIFAR10_FILES:
        (folder / name).write_bytes(CIFAR_DAMAGE[damage](marker))
    return folder


def _idx(dims: tuple[int, ...], payload: bytes, type_code: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, type_code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + payload


MNIST_DAMAGE = {
    "truncated_header": lambda: [b"\x00\x00\x08\x03\x00"] * 4,
    "bad_magic": lambda: [b"PK\x03\x04" + b"\x00" * 32] * 4,
    "images_shorter_than_header": lambda: [_idx((5, 28, 28), b"\x00" * 10), _idx((5,), b"\x00" * 5)] * 2,
    "label_count_mismatch": lambda: [_idx((2, 28, 28), b"\x00" * 1568), _idx((3,), b"\x00" * 3)] * 2,
}


def broken_mnist(folder: Path, damage: str) -> Path:
    """An MNIST folder of idx files with one kind of damage from MNIST_DAMAGE."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in zip(MNIST_FILES, MNIST_DAMAGE[damage](), strict=True):
        (folder / name).write_bytes(payload)
    return folder


def broken_database(folder: Path, payload: bytes = b"not a database" * 100) -> Path:
    """A study folder whose ``results.sqlite`` is not a database."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.sqlite").write_bytes(payload)
    return folder
