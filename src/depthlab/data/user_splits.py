"""Seeded, stratified train / val / test rows for a user's own data, or the user's own split column.

The test rows are drawn with a fixed seed (``TEST_SPLIT_SEED``), so every run of a study is scored on the same
rows; the run's seed draws the validation rows from the rest. Classification splits keep class proportions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from depthlab.data.dataset import Dataset
from depthlab.data.splits import split_indices
from depthlab.data.targets import check_class_counts
from depthlab.errors import DepthlabError, check
from depthlab.seeds import Stream

TEST_SPLIT_SEED = 12345
SPLIT_NAMES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
}

Parts = dict[str, torch.Tensor]


def seeded_parts(
    labels: torch.Tensor | None,
    classes: list[str] | None,
    n: int,
    test_fraction: float,
    val_fraction: float,
    seed: int,
) -> Parts:
    """Row indices of each split; ``labels`` (classification) makes the splits stratified."""
    stratify = labels is not None
    y = labels if stratify else torch.zeros(n, dtype=torch.int64)
    if stratify and (test_fraction or val_fraction):
        check_class_counts(labels, classes, 2, "a training row and a held-out one")
    rest, test = split_indices(y, test_fraction, TEST_SPLIT_SEED, stratify, Stream.TEST_SPLIT)
    keep, val = split_indices(y[rest], val_fraction, seed, stratify)
    parts = {"train": rest[keep], "val": rest[val], "test": test}
    check(len(parts["train"]) > 0, f"{n} rows leave no training row (test_fraction, val_fraction too large)")
    return parts


def column_parts(values: Sequence[object], column: str) -> Parts:
    """Row indices from a split column whose values are train / val / test (or validation, valid, dev)."""
    names = [str(v).strip().lower() for v in values]
    bad = sorted({v for v in names if v not in SPLIT_NAMES})
    if bad:
        raise DepthlabError(
            f"split column {column!r} holds {bad[:5]}; valid values: {', '.join(sorted(SPLIT_NAMES))}"
        )
    parts = {
        s: torch.tensor([i for i, v in enumerate(names) if SPLIT_NAMES[v] == s], dtype=torch.int64)
        for s in ("train", "val", "test")
    }
    check(len(parts["train"]) > 0, f"split column {column!r} marks no row as train")
    return parts


def describe_parts(parts: Parts, how: str) -> dict[str, object]:
    """The split sizes and how they were made, for the metadata."""
    return {**{name: len(rows) for name, rows in parts.items()}, "how": how}


def split_dataset(
    name: str, x: torch.Tensor, y: torch.Tensor, parts: Parts, task: str, num_classes: int, meta: dict
) -> Dataset:
    """A Dataset from all rows' features and targets and the row indices of each split."""
    pick = {f"{v}_{s}": t[parts[s]] for s in ("train", "val", "test") for v, t in (("x", x), ("y", y))}
    return Dataset(name, **pick, num_classes=num_classes, task=task, meta=meta)
