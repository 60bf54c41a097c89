"""Options every data set shares: the seeded validation split carved from the training part."""

from __future__ import annotations

from dataclasses import dataclass

from depthlab.errors import check


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
