"""The in-memory data set every loader returns, the registry's entry for a loader, and what was done to a
user's own data in plain lines.

``Dataset`` holds tensors for train/val/test plus what a model needs to know; ``DatasetEntry`` pairs a loader
``(options, seed) -> Dataset`` with its options dataclass, defaults and layout; ``describe(meta)`` gives the
few lines that reports print (train, doctor, study, ``data show``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch


@dataclass
class Dataset:
    """Splits as tensors (x: float32 in the model's input layout, y: int64 labels or float32 targets).

    Layouts: tabular (N, F); sequences (N, C, L); images (N, C, H, W) — so ``input_shape`` tells a model
    whether it can take the data (an MLP flattens anything; cnn1d needs (C, L); cnn2d needs (C, H, W)).
    Token data: x int64 token ids (N, T), ``meta["vocab_size"]`` ids; task ``lm`` has y (N, T), the next token
    at each position, and ``num_classes`` the vocabulary (language modelling, ``data.text``).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int  # output width: classes for classification, target dimension for regression
    task: Literal["classification", "regression", "lm"] = "classification"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def tokens(self) -> bool:
        """Whether the inputs are token ids (integers), which only a model with an embedding reads."""
        return not self.x_train.is_floating_point()

    def model_kwargs(self) -> dict[str, Any]:
        """What ``create_model`` needs to fit this data: ``input_shape`` and ``num_classes``; for token ids
        also ``task="lm"`` (language modelling) or the ``vocab_size`` of a sequence task."""
        kwargs: dict[str, Any] = {"input_shape": self.input_shape, "num_classes": self.num_classes}
        if self.task == "lm":
            kwargs["task"] = "lm"
        elif self.tokens and "vocab_size" in self.meta:
            kwargs["vocab_size"] = self.meta["vocab_size"]
        return kwargs

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with every split on ``device`` (the engine keeps data there; batches are index slices)."""
        moved = {k: getattr(self, k).to(device) for k in _SPLITS}
        return Dataset(self.name, **moved, num_classes=self.num_classes, task=self.task, meta=self.meta)

    def __repr__(self) -> str:
        sizes = "/".join(str(len(getattr(self, f"x_{s}"))) for s in ("train", "val", "test"))
        shape, out = self.input_shape, self.num_classes
        return f"Dataset({self.name!r}, {sizes} train/val/test, input {shape}, {out} out)"


_SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


Loader = Callable[[Any, int], Dataset]


@dataclass(frozen=True)
class DatasetEntry:
    options_cls: type
    load: Loader
    defaults: dict[str, Any]
    layout: str = "any"  # "image": examples are (C, H, W), what an image-only model (ParNet) can take


def _encodings(encodings: dict[str, Any]) -> str:
    parts = []
    for name, how in encodings.items():
        if isinstance(how, dict) and how.get("kind") == "one-hot":
            parts.append(f"{name} one-hot ({len(how['categories'])})")
        elif isinstance(how, dict):
            parts.append(f"{name} {how.get('kind', '')}".strip())
        else:
            parts.append(f"{name}: {how}")
    return ", ".join(parts)


def describe(meta: dict[str, Any]) -> list[str]:
    """Lines naming the file (and its sha256), rows, target and task, columns, encodings, split and notes;
    empty for a built-in data set."""
    if "rows" not in meta or "task" not in meta:
        return []
    where = meta.get("file") or meta.get("source", "data")
    sha = f" (sha256 {meta['sha256'][:12]})" if meta.get("sha256") else ""
    target = f", target {meta['target']!r}" if meta.get("target") else ""
    classes = f", {len(meta['classes'])} classes" if meta.get("classes") else ""
    lines = [f"data: {where}{sha}: {meta['rows']} rows{target} ({meta['task']}{classes})"]
    if meta.get("columns"):
        lines.append(f"columns used: {', '.join(meta['columns'])} -> {meta.get('features')} features")
    if meta.get("encodings"):
        lines.append(f"encodings (fitted on the training split): {_encodings(meta['encodings'])}")
    if meta.get("split"):
        split = meta["split"]
        lines.append(
            f"split: {split.get('train')}/{split.get('val')}/{split.get('test')} train/val/test, "
            f"{split.get('how')}"
        )
    lines += [f"note: {note}" for note in meta.get("notes", [])]
    return lines
