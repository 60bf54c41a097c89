"""Seeded splits and permutations, drawn from private generators (global random states are never touched).

A built-in data set carves a seeded, stratified ``val_fraction`` of its training part (``SplitOptions``,
``make_splits``); ``ShuffleOptions`` adds one fixed seeded permutation of positions. A user's own data is
split into train / val / test rows (``seeded_parts``): the test rows with a fixed seed (``TEST_SPLIT_SEED``),
so every run of a study is scored on the same rows, the validation rows by the run's seed from the rest;
classification splits keep class proportions. A split column holding ``train`` / ``val`` / ``test`` replaces
both (``column_parts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError, check
from depthlab.seeds import Stream, generator


@dataclass
class SplitOptions:
    """``val_fraction`` of the training part becomes the validation split (stratified for classification)."""

    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        check(0.0 <= self.val_fraction < 1.0, f"val_fraction={self.val_fraction}: must be in [0, 1)")


@dataclass
class ShuffleOptions(SplitOptions):
    """Adds ``shuffle``: one fixed seeded permutation of positions (or pixels), the same for every example."""

    shuffle: bool = False


def held_out_counts(sizes: list[int], fraction: float) -> list[int]:
    """Per-group held-out counts summing to round(fraction * total), shared by largest remainder."""
    exact = [fraction * size for size in sizes]
    counts = [int(e) for e in exact]
    short = int(round(fraction * sum(sizes))) - sum(counts)
    by_remainder = sorted(range(len(sizes)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: max(short, 0)]:
        counts[i] += 1
    return counts


def split_indices(
    y: torch.Tensor, fraction: float, seed: int, stratify: bool, stream: Stream = Stream.VAL_SPLIT
) -> tuple[torch.Tensor, torch.Tensor]:
    """(keep, held_out) indices; held_out has round(fraction * n) items, in class proportion if stratified."""
    gen = generator(seed, stream)
    classes = torch.unique(y) if stratify else None
    groups = [torch.nonzero(y == c).flatten() for c in classes] if stratify else [torch.arange(len(y))]
    keep, held = [], []
    for group, n_held in zip(groups, held_out_counts([len(g) for g in groups], fraction), strict=True):
        group = group[torch.randperm(len(group), generator=gen)]
        held.append(group[:n_held])
        keep.append(group[n_held:])
    # sorted so the training order stays the source order (shuffling is the engine's job)
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


TEST_SPLIT_SEED = 12345  # fixed: every run of every study is scored on the same test rows


def fixed_test_split(
    y: torch.Tensor, fraction: float, stratify: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(rest, test) indices for a source without its own test split: the same rows whatever the run's seed."""
    return split_indices(y, fraction, TEST_SPLIT_SEED, stratify, Stream.TEST_SPLIT)


def check_labels(name: str, labels: dict[str, torch.Tensor], num_classes: int) -> None:
    """Raise DepthlabError unless every label is a class index in [0, num_classes) (else: a corrupt file)."""
    for split, y in labels.items():
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise DepthlabError(
                f"{name}: {split} labels span {int(y.min())}..{int(y.max())}; expected class "
                f"indices 0..{num_classes - 1} ({num_classes} classes)"
            )


def make_splits(
    name: str,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    val_fraction: float,
    seed: int,
    num_classes: int,
    task: str = "classification",
    meta: dict | None = None,
) -> Dataset:
    """A Dataset whose val split is a seeded (stratified) ``val_fraction`` of the training part."""
    if task == "classification":
        check_labels(name, {"train": y_train, "test": y_test}, num_classes)
    keep, held = split_indices(y_train, val_fraction, seed, stratify=task == "classification")
    return Dataset(
        name,
        x_train[keep],
        y_train[keep],
        x_train[held],
        y_train[held],
        x_test,
        y_test,
        num_classes=num_classes,
        task=task,
        meta=dict(meta or {}),
    )


def position_permutation(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A fixed permutation of the spatial positions of a (C, L) or (C, H, W) example (all channels alike)."""
    n_positions = 1
    for size in shape[1:]:
        n_positions *= size
    return torch.randperm(n_positions, generator=generator(seed, Stream.POSITIONS))


def permute_positions(x: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Apply one position permutation to every example of x (N, C, ...), keeping the layout."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    return flat[:, :, permutation].reshape(x.shape)


def shuffle_positions(x_splits: list[torch.Tensor], seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One seeded position permutation applied to every split (Zhang et al. 2017; MNIST-1D's ablation)."""
    permutation = position_permutation(tuple(x_splits[0].shape[1:]), seed)
    return [permute_positions(x, permutation) for x in x_splits], permutation


SPLIT_NAMES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
}

Parts = dict[str, torch.Tensor]


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
    rest, test = fixed_test_split(y, test_fraction, stratify)
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
