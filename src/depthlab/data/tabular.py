"""A table (pandas DataFrame) to a Dataset: pick the target, drop identifiers, split, encode, keep a record.

Order matters: rows are split first, then every statistic (means, stds, categories, fill values) is fitted on
the training rows only and applied to all rows. ``Dataset.meta`` records what was done: the file and its
sha256, rows, the columns used and dropped, each column's encoding, the task and why, the split sizes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from depthlab.data import columns as cols
from depthlab.data.dataset import Dataset
from depthlab.data.targets import class_labels, infer_task, regression_values, standardize_target
from depthlab.data.user_options import UserDataOptions
from depthlab.data.user_splits import column_parts, describe_parts, seeded_parts, split_dataset
from depthlab.errors import check, unknown

TARGET_NAMES = ("target", "label", "labels", "y", "class")


def pick_target(frame: pd.DataFrame, target: str | None, notes: list[str]) -> str:
    """The target column: the one named, else one called target/label/y/class, else the last column."""
    names = list(frame.columns)
    if target is not None:
        if target not in names:
            raise unknown("target column", target, names)
        return target
    chosen = next((n for n in names if n.lower() in TARGET_NAMES), names[-1])
    notes.append(f"target: column {chosen!r} (not given; pass target=COLUMN / --target COLUMN to choose)")
    return chosen


def feature_columns(
    frame: pd.DataFrame, target: str, split_column: str | None, notes: list[str]
) -> list[str]:
    """Every column but the target, the split column and identifiers (each dropped one gets a note)."""
    if split_column is not None and split_column not in frame.columns:
        raise unknown("split column", split_column, list(frame.columns))
    candidates = [c for c in frame.columns if c not in (target, split_column)]
    ids = cols.id_like(frame, candidates)
    for name in ids:
        notes.append(f"dropped column {name!r}: unique per row (an identifier, not a feature)")
    features = [c for c in candidates if c not in ids]
    check(
        bool(features), f"no feature columns besides the target {target!r} (columns: {list(frame.columns)})"
    )
    return features


def drop_missing(frame: pd.DataFrame, used: list[str], target: str, impute: str | None, notes: list[str]):
    """Rows kept after the missing-value rule (every row, or without missing values / missing targets)."""
    cols.check_finite(frame, used)
    counts = cols.missing_counts(frame, used)
    cols.check_missing(counts, impute)
    subset = used if impute == "drop" else [target]
    kept = frame.dropna(subset=subset)
    if len(kept) < len(frame):
        why = "a missing value" if impute == "drop" else "a missing target"
        notes.append(f"dropped {len(frame) - len(kept)} rows with {why}")
    if counts and impute != "drop":
        notes.append(f"imputed missing values by the training {impute} ({counts})")
    check(len(kept) > 0, "no rows left after dropping the rows with missing values")
    return kept.reset_index(drop=True)


def encode_target(values: pd.Series, task: str | None, notes: list[str]) -> tuple[str, torch.Tensor, list]:
    """(task, targets, class names) with the task inferred unless given."""
    name = str(values.name)
    if task is None:
        task, why = infer_task(values, name)
        other = "regression" if task == "classification" else "classification"
        notes.append(f"task: {task} ({why}; pass task={other} to change)")
    if task == "classification":
        labels, classes = class_labels(values, name)
        return task, labels, classes
    return task, regression_values(values, name), []


def split_rows(frame: pd.DataFrame, y: torch.Tensor, task: str, classes: list, options, seed: int):
    """(row indices per split, how they were made): the split column, or seeded (stratified) fractions."""
    if options.split_column is not None:
        return column_parts(frame[options.split_column].tolist(), options.split_column), "split column"
    labels = y if task == "classification" else None
    parts = seeded_parts(labels, classes, len(frame), options.test_fraction, options.val_fraction, seed)
    return parts, f"seeded{' stratified' if labels is not None else ''} (test fixed, val seed {seed})"


def encode_features(frame: pd.DataFrame, train: torch.Tensor, features: list[str], options) -> tuple:
    """(features of every row, the fitted columns): statistics from the training rows only."""
    rows = frame.iloc[train.numpy()]
    fitted = [
        cols.fit_column(rows[c], options.impute, options.max_categories, options.standardize)
        for c in features
    ]
    return torch.from_numpy(cols.transform(frame, fitted)), fitted


def frame_to_dataset(
    frame: pd.DataFrame, options: UserDataOptions, seed: int, name: str, meta: dict
) -> Dataset:
    """The Dataset of a table; see the module docstring."""
    notes: list[str] = []
    target = pick_target(frame, options.target, notes)
    features = feature_columns(frame, target, options.split_column, notes)
    frame = drop_missing(frame, features + [target], target, options.impute, notes)
    task, y, classes = encode_target(frame[target], options.task, notes)
    parts, how = split_rows(frame, y, task, classes, options, seed)
    x, fitted = encode_features(frame, parts["train"], features, options)
    record: dict[str, Any] = {}
    if task == "regression":
        y, record = standardize_target(y, parts["train"])
    meta = {
        **meta,
        "rows": len(frame),
        "target": target,
        "task": task,
        "columns": features,
        "features": len(cols.feature_names(fitted)),
        "encodings": {c.name: c.describe() for c in fitted},
        "split": describe_parts(parts, how),
        "notes": notes,
        **({"classes": classes} if classes else {}),
        **record,
    }
    num_classes = len(classes) if task == "classification" else 1
    return split_dataset(name, x, y, parts, task, num_classes, meta)
