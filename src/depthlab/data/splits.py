"""Seeded splits and permutations, drawn from private generators (global RNG states are never touched)."""

from __future__ import annotations

import torch

from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError
from depthlab.seeds import Stream, generator


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
