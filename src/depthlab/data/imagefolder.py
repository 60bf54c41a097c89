"""A folder of class folders of images (JPEG/PNG/...), read with Pillow: ``root/<class>/<image>``.

If ``root`` holds ``train/`` and ``test/`` (or ``val/``) folders, those are the splits; otherwise a
stratified, fixed-seed ``test_fraction`` is held out. Classes are the sorted folder names. In memory, images
are (N, C, H, W) float32 in [0, 1]: 4 bytes per value, so ``load_dataset`` refuses a folder whose tensor would
pass ``max_in_memory_bytes`` (default 4 GiB) and points to ``image_folder_loader``, which streams the folder
through a ``torch.utils.data.DataLoader`` instead: worker processes read and decode the images in parallel,
batches stay uint8 (4x less to copy) in pinned memory so the copy to the GPU can overlap compute, and
augmentation runs afterwards on the whole batch on the device (:mod:`depthlab.data.augment`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import DataLoader

from depthlab.data.dataset import Dataset
from depthlab.data.download import FileOptions
from depthlab.data.splits import fixed_test_split, make_splits
from depthlab.errors import DepthlabError, check, unknown
from depthlab.seeds import Stream, generator

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class ImageFolderOptions(FileOptions):
    """``size``: resize images to size x size (none: all must share a size); ``mode``: RGB or L (grey)."""

    size: int | None = None
    mode: Literal["RGB", "L"] = "RGB"
    test_fraction: float = 0.2
    max_in_memory_bytes: int = 4 * 2**30

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.size is None or self.size > 0, f"size={self.size}: must be > 0")
        check(0.0 < self.test_fraction < 1.0, f"test_fraction={self.test_fraction}: must be in (0, 1)")


def list_images(folder: Path) -> tuple[list[tuple[Path, int]], list[str]]:
    """(path, class index) for every image under ``folder/<class>/``, and the sorted class names."""
    if not folder.is_dir():
        raise DepthlabError(f"image folder {folder} does not exist (expected {folder}/<class>/<image>.png)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    check(bool(classes), f"{folder}: no class folders (expected {folder}/<class>/<image>.png)")
    items = [
        (path, index)
        for index, name in enumerate(classes)
        for path in sorted((folder / name).rglob("*"))
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    check(bool(items), f"{folder}: no images with suffix {', '.join(sorted(IMAGE_SUFFIXES))}")
    return items, classes


def read_image(path: Path, mode: str, size: int | None) -> np.ndarray:
    """One image as a (C, H, W) uint8 array; a file Pillow cannot decode raises DepthlabError naming it."""
    from PIL import Image, UnidentifiedImageError  # lazy: ~60 ms of import that only image folders need

    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            if size is not None and image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.array(image, dtype=np.uint8)  # a writable copy
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DepthlabError(f"{path}: cannot read image ({err})") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def read_images(items: list[tuple[Path, int]], mode: str, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Stack images into (N, C, H, W) uint8; differing sizes without ``size`` raise naming the odd file."""
    arrays = [read_image(path, mode, size) for path, _ in items]
    for (path, _), array in zip(items, arrays, strict=True):
        if array.shape != arrays[0].shape:
            raise DepthlabError(
                f"{path}: size {array.shape[1:]} differs from {arrays[0].shape[1:]} of "
                f"{items[0][0]}; pass size=N to resize every image"
            )
    return np.stack(arrays), np.array([label for _, label in items], dtype=np.int64)


def split_folders(root: Path) -> tuple[Path, Path | None]:
    """(train folder, test folder or None): ``root/train`` + ``root/test|val`` when present, else root."""
    if (root / "train").is_dir():
        for name in ("test", "val"):
            if (root / name).is_dir():
                return root / "train", root / name
    return root, None


def estimated_bytes(count: int, options: ImageFolderOptions, first: Path) -> int:
    """Bytes the float32 tensor of ``count`` images would take (from the first image's size)."""
    channels = 3 if options.mode == "RGB" else 1
    if options.size is not None:
        return count * channels * options.size**2 * 4
    _, height, width = read_image(first, options.mode, None).shape
    return count * channels * height * width * 4


def load_image_folder(options: ImageFolderOptions, seed: int) -> Dataset:
    """Images from class folders as (N, C, H, W) in [0, 1]; too big for memory raises with the way out."""
    root = options.root_path("imagefolder")
    train_dir, test_dir = split_folders(root)
    train_items, classes = list_images(train_dir)
    test_items = list_images(test_dir)[0] if test_dir else []
    need = estimated_bytes(len(train_items) + len(test_items), options, train_items[0][0])
    check(
        need <= options.max_in_memory_bytes,
        f"{root}: {len(train_items) + len(test_items)} images need {need / 2**30:.1f} GiB in memory "
        f"(max_in_memory_bytes={options.max_in_memory_bytes}); stream them with "
        "depthlab.data.image_folder_loader(root) or raise max_in_memory_bytes",
    )
    x, y = read_images(train_items + test_items, options.mode, options.size)
    x_all, y_all = torch.from_numpy(x).float().div_(255.0), torch.from_numpy(y)
    if test_dir is not None:
        train, test = torch.arange(len(train_items)), torch.arange(len(train_items), len(y_all))
    else:
        train, test = fixed_test_split(y_all, options.test_fraction)
    return make_splits(
        "imagefolder",
        x_all[train],
        y_all[train],
        x_all[test],
        y_all[test],
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=len(classes),
        meta={"classes": classes, "root": str(root)},
    )


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
