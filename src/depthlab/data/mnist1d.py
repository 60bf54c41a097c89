"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", arXiv 2011.14439).

Generated offline with the ``mnist1d`` package's ``make_dataset`` (never ``get_dataset``, which tries the
network first), cached under the user cache directory as ``.npz`` keyed by the generation arguments, and
returned as (N, 1, 40) sequences. The defaults give the published data set (4000 train / 1000 test, generation
seed 42). ``shuffle`` is the paper's spatial-prior ablation: one fixed permutation of the 40 positions, the
same for every example. The package seeds Python's and NumPy's global generators; ``preserved_global_rng``
puts them back, so loading leaks nothing into the caller's random state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from depthlab.data.dataset import Dataset
from depthlab.data.download import cache_dir, load_arrays, save_arrays
from depthlab.data.splits import ShuffleOptions, make_splits, shuffle_positions
from depthlab.errors import check


@dataclass
class MNIST1DOptions(ShuffleOptions):
    """The generation knobs worth a study's while; names and defaults are the package's own."""

    num_samples: int = 5000
    train_split: float = 0.8
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 2e-2
    shear_scale: float = 0.75
    scale_coeff: float = 0.4
    max_translation: int = 48
    final_seq_length: int = 40
    data_seed: int = 42  # the generator's seed; 42 is the published data set

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_samples >= 20, f"num_samples={self.num_samples}: must be at least 20 (2 per class)")
        check(0.0 < self.train_split < 1.0, f"train_split={self.train_split}: must be in (0, 1)")
        for key in ("corr_noise_scale", "iid_noise_scale", "shear_scale", "scale_coeff", "max_translation"):
            check(getattr(self, key) >= 0, f"{key}={getattr(self, key)}: must be >= 0")
        check(self.final_seq_length >= 2, f"final_seq_length={self.final_seq_length}: must be >= 2")
        # the package seeds numpy's global generator, which takes 0 to 2**32 - 1
        check(0 <= self.data_seed < 2**32, f"data_seed={self.data_seed}: must be in [0, {2**32 - 1}]")


def generation_args(options: MNIST1DOptions) -> dict[str, Any]:
    """The package's ``get_dataset_args`` dict with our options filled in (shuffling is done by us)."""
    from mnist1d.data import get_dataset_args  # lazy: the package takes seconds to import

    args = get_dataset_args(as_dict=True)
    for key in (
        "num_samples",
        "train_split",
        "corr_noise_scale",
        "iid_noise_scale",
        "shear_scale",
        "scale_coeff",
        "max_translation",
        "final_seq_length",
    ):
        args[key] = getattr(options, key)
    args.update(seed=options.data_seed, shuffle_seq=False)
    return args


def generate(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the package's generator (about 3 s for the defaults) with the global RNG states preserved."""
    from mnist1d.data import make_dataset  # lazy: the package takes seconds to import
    from mnist1d.utils import ObjectView

    with preserved_global_rng():
        raw = make_dataset(ObjectView(dict(args)))
    return {key: np.asarray(raw[key]) for key in ("x", "y", "x_test", "y_test")}


def cache_path(args: dict[str, Any]) -> Path:
    """The cache file of the data generated from ``args`` (a hash of every argument but the URL)."""
    key = json.dumps({k: v for k, v in sorted(args.items()) if k != "url"}, sort_keys=True)
    return cache_dir() / "mnist1d" / f"mnist1d-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def cached_arrays(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """The generated arrays for ``args``: from the cache if there, else generated and cached atomically."""
    path = cache_path(args)
    arrays = load_arrays(path)
    if arrays is None or set(arrays) != {"x", "y", "x_test", "y_test"}:
        arrays = generate(args)
        save_arrays(path, arrays)
    return arrays


def _load(options: MNIST1DOptions, seed: int, name: str) -> Dataset:
    arrays = cached_arrays(generation_args(options))
    x_train = torch.from_numpy(arrays["x"]).float().unsqueeze(1)  # (N, 1, L)
    x_test = torch.from_numpy(arrays["x_test"]).float().unsqueeze(1)
    meta: dict[str, Any] = {"source": "mnist1d.data.make_dataset", "arxiv": "2011.14439"}
    if options.shuffle:
        (x_train, x_test), permutation = shuffle_positions([x_train, x_test], seed)
        meta["permutation"] = permutation.tolist()
    y_train = torch.from_numpy(arrays["y"]).long()
    y_test = torch.from_numpy(arrays["y_test"]).long()
    return make_splits(
        name,
        x_train,
        y_train,
        x_test,
        y_test,
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=10,
        meta=meta,
    )


def load_mnist1d(options: MNIST1DOptions, seed: int) -> Dataset:
    """MNIST-1D as (N, 1, 40) float32 sequences, 10 classes."""
    return _load(options, seed, "mnist1d")


def load_mnist1d_shuffled(options: MNIST1DOptions, seed: int) -> Dataset:
    """MNIST-1D with its 40 positions under one fixed seeded permutation (the spatial-prior ablation)."""
    return _load(options, seed, "mnist1d_shuffled")


@contextlib.contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Save the ``random`` and ``numpy.random`` global states and restore them on exit."""
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
