"""Named training-time augmentations, built on ``depthlab.data.augment`` (batched, on the device, seeded).

The generator is re-seeded from ``(seed, epoch)`` at each epoch start, so a run resumed at an epoch boundary
draws the same crops and flips as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from depthlab.data import augment as ops
from depthlab.errors import DepthlabError, unknown
from depthlab.seeds import Stream, derive_seed

# name -> AugmentOptions fields (crop padding 4 and flip: He et al. 2016, arXiv 1512.03385, §4.2)
AUGMENTS: dict[str, dict] = {
    "none": {},
    "flip": {"crop_padding": 0, "flip": True},
    "crop": {"crop_padding": 4, "flip": False},
    "crop_flip": {"crop_padding": 4, "flip": True},
    "crop_flip_cutout": {"crop_padding": 4, "flip": True, "cutout": 12},
}


def check_augment(name: str, x_train: torch.Tensor) -> None:
    """Unknown names, and augmenting data that is not (N, C, H, W), fail before training starts."""
    if name not in AUGMENTS:
        raise unknown("augment", name, AUGMENTS)
    if name != "none" and x_train.ndim != 4:
        raise DepthlabError(
            f"augment={name!r} needs image data (N, C, H, W); got shape {tuple(x_train.shape)}"
            " (valid here: none)"
        )


class EpochAugment:
    """Calls ``depthlab.data.augment.augment`` with a generator seeded per epoch."""

    def __init__(self, name: str, seed: int, device: torch.device):
        self.options = ops.AugmentOptions(**AUGMENTS[name])
        self.apply: Callable = ops.augment
        self.seed, self.device = seed, device
        self.generator = ops.device_generator(derive_seed(seed, Stream.AUGMENT, 0), device)

    def start_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(derive_seed(self.seed, Stream.AUGMENT, epoch))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.apply(x, self.options, self.generator)


def build_augment(name: str, seed: int, x_train: torch.Tensor, device: torch.device) -> EpochAugment | None:
    """The augmentation of this run, or None."""
    check_augment(name, x_train)
    return None if name == "none" else EpochAugment(name, seed, device)
