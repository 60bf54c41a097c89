"""A user's own arrays as a Dataset: ``from_arrays(X, y)`` in Python, ``.npz`` (arrays ``x``/``X``
and ``y``) and ``.npy`` (one 2-D array, the target its last column or ``target=INDEX``) on disk.

Features keep their layout: (N, F) tables, (N, C, L) sequences, (N, C, H, W) images. Tabular (N, F) features
are standardized per column with the training rows' mean and std (``standardize=False`` keeps them); higher
layouts are left as given. Missing values (NaN) follow the table rule: an error, or ``impute``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from depthlab import config as cfg
from depthlab.data.dataset import Dataset
from depthlab.data.splits import describe_parts, seeded_parts, split_dataset
from depthlab.data.tables import (
    UserDataOptions,
    check_missing,
    encode_target,
    fit_scaling,
    standardize_target,
)
from depthlab.errors import DepthlabError, check


def as_array(value: Any, what: str) -> np.ndarray:
    """A numpy array from an array, a tensor or a list; anything else raises naming ``what``."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise DepthlabError(f"{what}: not an array ({' '.join(str(err).split())})") from None
    check(array.dtype != object or what == "y", f"{what}: not a numeric array (dtype {array.dtype})")
    return array


def count_missing(flat: np.ndarray, impute: str | None) -> dict[str, int]:
    """Missing values per feature of (rows, features) ``flat``; infinite values, or NaN without ``impute``,
    are an error."""
    infinite = np.isinf(flat).sum(0)
    if infinite.any():
        raise DepthlabError(f"infinite values in X ({int(infinite.sum())}); replace or drop those rows")
    counts = {f"feature {i}": int(n) for i, n in enumerate(np.isnan(flat).sum(0)) if n}
    check_missing(counts, None if impute == "drop" else impute)
    return counts


def scale_features(
    x: np.ndarray, train: np.ndarray, options: UserDataOptions, notes: list[str]
) -> tuple[torch.Tensor, dict]:
    """(features, how): NaN filled and tabular (N, F) features standardized, by the training rows, through
    the same path as a table's columns; higher layouts keep their values and shape."""
    flat = x.reshape(len(x), -1)
    counts = count_missing(flat, options.impute)
    standardize = options.standardize and x.ndim == 2
    how = "standardized by the training rows' mean and std" if standardize else "as given"
    if not counts and not standardize:
        return torch.from_numpy(x.astype(np.float32)), {"features": how}
    names = [f"feature {i}" for i in range(flat.shape[1])]
    scaling = fit_scaling(flat[train], options.impute if counts else None, standardize, names)
    if counts:
        notes.append(f"imputed {sum(counts.values())} missing values by the training {options.impute}")
    return torch.from_numpy(scaling.apply(flat).reshape(x.shape)), {"features": how}


def _drop_rows(x: np.ndarray, y: np.ndarray, impute: str | None, notes: list[str]):
    """Rows without a missing target (and, for ``impute=drop``, without any missing feature)."""
    y_bad = pd.isna(y.reshape(len(y), -1)).any(1)
    x_bad = np.isnan(x).reshape(len(x), -1).any(1) if x.dtype.kind == "f" else np.zeros(len(x), bool)
    if y_bad.any() and impute is None:
        check_missing({"y": int(y_bad.sum())}, None)
    bad = (x_bad | y_bad) if impute == "drop" else y_bad
    if bad.any():
        notes.append(
            f"dropped {int(bad.sum())} rows with a missing {'value' if impute == 'drop' else 'target'}"
        )
    return x[~bad], y[~bad]


def from_arrays(
    x: Any, y: Any, *, name: str = "arrays", seed: int = 0, meta: dict | None = None, **opts: Any
) -> Dataset:
    """A Dataset from features ``x`` (N, ...) and targets ``y`` (N,) or (N, k); options as load_dataset."""
    return arrays_to_dataset(x, y, cfg.build(UserDataOptions, opts), seed, name, meta or {})


def arrays_to_dataset(x: Any, y: Any, options: UserDataOptions, seed: int, name: str, meta: dict) -> Dataset:
    """``from_arrays`` with resolved options."""
    x, y = as_array(x, "X"), as_array(y, "y")
    if len(x) != len(y):
        raise DepthlabError(f"X and y have different lengths: {len(x)} rows of X, {len(y)} of y")
    check(len(x) > 0, "X and y are empty")
    x = x.reshape(len(x), 1) if x.ndim == 1 else x
    notes: list[str] = []
    x, y = _drop_rows(x.astype(np.float64) if x.dtype.kind in "iub" else x, y, options.impute, notes)
    task, targets, classes = _targets(y, options, notes)
    labels = targets if task == "classification" else None
    parts = seeded_parts(labels, classes, len(x), options.test_fraction, options.val_fraction, seed)
    features, scaling = scale_features(x, parts["train"].numpy(), options, notes)
    record = {}
    if task == "regression":
        targets, record = standardize_target(targets, parts["train"])
    info = {
        **meta,
        "rows": len(x),
        "task": task,
        "features": int(np.prod(x.shape[1:])),
        "encodings": scaling,
        "split": describe_parts(
            parts, f"seeded{' stratified' if labels is not None else ''} (val seed {seed})"
        ),
        "notes": notes,
        **({"classes": classes} if classes else {}),
        **record,
    }
    num_classes = len(classes) if task == "classification" else targets.shape[1]
    return split_dataset(name, features, targets, parts, task, num_classes, info)


def _targets(y: np.ndarray, options: UserDataOptions, notes: list[str]) -> tuple[str, torch.Tensor, list]:
    if y.ndim == 2 and y.shape[1] > 1:  # several regression targets
        check(
            options.task != "classification", f"y has shape {y.shape}: classification needs one label per row"
        )
        return "regression", torch.tensor(y, dtype=torch.float32), []
    return encode_target(pd.Series(y.reshape(-1), name="y"), options.task, notes)


def read_arrays(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) from ``.npz`` (x/X and y, or target=NAME) or ``.npy`` (a 2-D array; target = a column index)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DepthlabError(f"{path}: not a readable numpy file ({' '.join(str(err).split())})") from None
    if isinstance(loaded, np.ndarray):
        shape = loaded.shape
        check(
            len(shape) == 2 and shape[1] >= 2, f"{path}: expected a 2-D array (rows x columns), got {shape}"
        )
        column = cfg.coerce("target", target if target is not None else shape[1] - 1, int)
        check(-shape[1] <= column < shape[1], f"target={column}: {path} has {shape[1]} columns")
        return np.delete(loaded, column, axis=1), loaded[:, column]
    with loaded:
        names = list(loaded.files)
        x_name = next((n for n in ("x", "X") if n in names), None)
        y_name = target or "y"
        if x_name is None or y_name not in names:
            raise DepthlabError(f"{path}: expected arrays 'x' (or 'X') and {y_name!r}; it holds {names}")
        return loaded[x_name], loaded[y_name]
