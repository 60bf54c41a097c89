"""The data-set registry: ``load_dataset(name, seed=0, **opts)`` and ``list_datasets(pattern)``.

Each entry pairs a dataclass of options with a loader ``(options, seed) -> Dataset``, so a data set is fully
described by ``(name, options dict, seed)`` and a study grid can list it as plain values. The same loader can
be registered under several names with different defaults (``mnist1d`` and ``mnist1d_shuffled``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from depthlab import config as cfg
from depthlab.data.dataset import Dataset
from depthlab.registry import Registry

Loader = Callable[[Any, int], Dataset]


@dataclass(frozen=True)
class DatasetEntry:
    options_cls: type
    load: Loader
    defaults: dict[str, Any]
    layout: str = "any"  # "image": examples are (C, H, W), what an image-only model (ParNet) can take


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(
    name: str, options_cls: type, *, layout: str = "any", **defaults: Any
) -> Callable[[Loader], Loader]:
    """Decorator: register a loader ``(options, seed) -> Dataset`` under ``name`` with option defaults;
    ``layout="image"`` marks data sets whose examples are (C, H, W) images."""

    def decorator(load: Loader) -> Loader:
        DATASETS.register(name, DatasetEntry(options_cls, load, defaults, layout))
        return load

    return decorator


def dataset_options(name: str, **opts: Any):
    """The resolved options dataclass of data set ``name`` (strings are coerced by field type)."""
    entry = DATASETS.get(name)
    return cfg.build(entry.options_cls, opts, **entry.defaults)


def load_dataset(name: str, seed: int = 0, **opts: Any) -> Dataset:
    """Load data set ``name`` as tensors; the same name, options and seed give identical tensors."""
    entry = DATASETS.get(name)
    options = cfg.build(entry.options_cls, opts, **entry.defaults)
    seed = cfg.coerce("seed", seed, int)
    data = entry.load(options, seed)
    data.meta.setdefault("options", cfg.as_dict(options))
    data.meta.setdefault("seed", seed)
    return data


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered data-set names matching a shell pattern."""
    return DATASETS.names(pattern)
