"""The in-memory data set every loader returns: tensors for train/val/test plus what a model needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch


@dataclass
class Dataset:
    """Splits as tensors (x: float32 in the model's input layout, y: int64 labels or float32 targets).

    Layouts: tabular (N, F); sequences (N, C, L); images (N, C, H, W) — so ``input_shape`` tells a model
    whether it can take the data (an MLP flattens anything; cnn1d needs (C, L); cnn2d needs (C, H, W)).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int  # output width: classes for classification, target dimension for regression
    task: Literal["classification", "regression"] = "classification"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def model_kwargs(self) -> dict[str, Any]:
        """What ``create_model`` needs to fit this data: ``input_shape`` and ``num_classes``."""
        return {"input_shape": self.input_shape, "num_classes": self.num_classes}

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with every split on ``device`` (the engine keeps data there; batches are index slices)."""
        moved = {k: getattr(self, k).to(device) for k in _SPLITS}
        return Dataset(self.name, **moved, num_classes=self.num_classes, task=self.task, meta=self.meta)

    def __repr__(self) -> str:
        sizes = "/".join(str(len(getattr(self, f"x_{s}"))) for s in ("train", "val", "test"))
        shape, out = self.input_shape, self.num_classes
        return f"Dataset({self.name!r}, {sizes} train/val/test, input {shape}, {out} out)"


_SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
