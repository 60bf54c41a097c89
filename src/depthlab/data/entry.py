"""A data-set registry entry: options dataclass, loader ``(options, seed) -> Dataset``, defaults, layout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from depthlab.data.dataset import Dataset

Loader = Callable[[Any, int], Dataset]


@dataclass(frozen=True)
class DatasetEntry:
    options_cls: type
    load: Loader
    defaults: dict[str, Any]
    layout: str = "any"  # "image": examples are (C, H, W), what an image-only model (ParNet) can take
