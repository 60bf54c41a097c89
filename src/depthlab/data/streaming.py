"""Streaming image folders that do not fit in memory through a ``torch.utils.data.DataLoader``.

The in-memory path (``load_dataset("imagefolder")``) is the fast one: batches are index slices of tensors on
the device. When the float32 tensor would pass ``max_in_memory_bytes``, decode on the fly instead: worker
processes read and decode JPEG/PNG in parallel, batches stay uint8 (4x less to copy) in pinned memory so the
copy to the GPU can overlap compute, and augmentation runs afterwards on the whole batch on the device
(:mod:`depthlab.data.augment`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from depthlab.data.imagefolder import list_images, read_image, split_folders
from depthlab.seeds import Stream, generator


class ImageFiles(torch.utils.data.Dataset):
    """(path, label) pairs decoded on access into (C, H, W) uint8 tensors."""

    def __init__(self, items: list[tuple[Path, int]], mode: str = "RGB", size: int | None = None):
        self.items, self.mode, self.size = items, mode, size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.items[index]
        return torch.from_numpy(read_image(path, self.mode, self.size)), label


def image_folder_loader(
    root: str | Path,
    *,
    split: str = "train",
    batch_size: int = 256,
    shuffle: bool = True,
    num_workers: int | None = None,
    pin_memory: bool | None = None,
    size: int | None = None,
    mode: str = "RGB",
    seed: int = 0,
) -> DataLoader:
    """A DataLoader of (uint8 images (B, C, H, W), int64 labels) over ``root``'s ``train`` or ``test`` images.

    ``split="all"`` reads a root without train/test folders. Workers default to the CPU count (at most 8);
    pinned memory defaults to on when CUDA is present. The shuffle order is seeded.
    """
    train_dir, test_dir = split_folders(Path(root).expanduser())
    folder = {"train": train_dir, "all": train_dir, "test": test_dir}.get(split, train_dir)
    if split not in ("train", "test", "all") or folder is None:
        from depthlab.errors import unknown

        raise unknown("split with folders", split, ["train", "all"] + (["test"] if test_dir else []))
    workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
    return DataLoader(
        ImageFiles(list_images(folder)[0], mode, size),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        generator=generator(seed, Stream.LOADER_ORDER),
    )
