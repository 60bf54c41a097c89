"""What the target column asks for: the task (inferred, or as the user says) and the labels as tensors.

Strings, booleans and integer values with at most ``MAX_CLASSES`` distinct values are classes (sorted, so
label i is the i-th smallest); anything else numeric is a regression target. A regression target is
standardized with the training split's mean and std (kept in the metadata to map predictions back).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from depthlab.errors import DepthlabError

MAX_CLASSES = 20


def _integral(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if not pd.api.types.is_float_dtype(values):
        return False
    finite = values.dropna().to_numpy()
    return bool(len(finite)) and bool(np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)))


def infer_task(values: pd.Series, name: str) -> tuple[str, str]:
    """(task, why) from a target's values."""
    distinct = values.nunique(dropna=True)
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification", f"target {name!r} holds {distinct} distinct non-numeric values"
    if _integral(values) and distinct <= MAX_CLASSES:
        return "classification", f"target {name!r} holds {distinct} distinct integers"
    return "regression", f"target {name!r} holds {distinct} distinct numbers"


def class_labels(values: pd.Series, name: str) -> tuple[torch.Tensor, list[str]]:
    """(int64 labels, class names) for a classification target; one class only raises."""
    classes = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DepthlabError(
            f"target {name!r} has one class only ({classes[0]!r}); classification needs at least two"
        )
    index = {value: i for i, value in enumerate(classes)}
    labels = torch.tensor([index[v] for v in values.tolist()], dtype=torch.int64)
    return labels, [str(c) for c in classes]


def regression_values(values: pd.Series, name: str) -> torch.Tensor:
    """(N, 1) float32 targets; a non-numeric target raises."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DepthlabError(f"target {name!r} is not numeric ({values.dtype}); task=regression needs numbers")
    return torch.tensor(values.to_numpy(dtype=np.float64), dtype=torch.float32).reshape(-1, 1)


def check_class_counts(labels: torch.Tensor, classes: list[str], needed: int, why: str) -> None:
    """Raise unless every class has ``needed`` rows (what a stratified split into held-out parts needs)."""
    counts = torch.bincount(labels, minlength=len(classes)).tolist()
    short = [(c, n) for c, n in zip(classes, counts, strict=True) if n < needed]
    if short:
        listed = ", ".join(f"{c!r} ({n} row{'s' * (n != 1)})" for c, n in short[:5])
        raise DepthlabError(
            f"too few rows per class for a stratified split ({why}: at least {needed} each): {listed}; "
            "add rows, set test_fraction=0 / val_fraction=0, give a split_column, or task=regression"
        )


def standardize_target(y: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
    """Regression targets standardized by the training rows' mean and std."""
    mean, std = y[train].mean(0), y[train].std(0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (y - mean) / std, {"target_mean": mean.tolist(), "target_std": std.tolist()}
