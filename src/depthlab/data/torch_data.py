"""A ``torch.utils.data.Dataset`` of ``(x, y)`` items as a depthlab Dataset: materialized into tensors when it
fits in memory (the fast path: batches are index slices on the device), else a DataLoader to stream it.

The size is estimated from the first item times the length; past ``max_in_memory_bytes`` (4 GiB by default)
``from_torch`` refuses with the way out, :func:`torch_loader`, as the image-folder loader does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

from depthlab.data.arrays import from_arrays
from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError, check
from depthlab.seeds import Stream, generator

MAX_IN_MEMORY_BYTES = 4 * 2**30


def _first_item(dataset: Any) -> tuple[torch.Tensor, Any]:
    check(
        hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"),
        f"{type(dataset).__name__}: expected a map-style torch Dataset (with __len__ and __getitem__)",
    )
    check(len(dataset) > 0, f"{type(dataset).__name__}: the data set is empty")
    item = dataset[0]
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise DepthlabError(f"{type(dataset).__name__}[0] is {type(item).__name__}; expected an (x, y) pair")
    try:
        return torch.as_tensor(item[0]), item[1]
    except (TypeError, ValueError, RuntimeError):
        raise DepthlabError(
            f"{type(dataset).__name__}[0]: x is a {type(item[0]).__name__}; expected a tensor or an array "
            "(give the dataset a transform that makes one, e.g. torchvision's ToTensor)"
        ) from None


def from_torch(
    dataset: Any, *, name: str | None = None, max_in_memory_bytes: int = MAX_IN_MEMORY_BYTES, **opts: Any
) -> Dataset:
    """Materialize an (x, y) torch Dataset and split it as ``from_arrays`` does (same options)."""
    x0, _ = _first_item(dataset)
    need = len(dataset) * x0.numel() * 4
    check(
        need <= max_in_memory_bytes,
        f"{type(dataset).__name__}: {len(dataset)} items need {need / 2**30:.1f} GiB in memory "
        f"(max_in_memory_bytes={max_in_memory_bytes}); stream it with depthlab.data.torch_loader(dataset)",
    )
    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=512, shuffle=False, num_workers=0):
        xs.append(torch.as_tensor(x).float())
        ys.append(torch.as_tensor(y))
    label = name or type(dataset).__name__
    return from_arrays(torch.cat(xs), torch.cat(ys), name=label, meta={"source": "torch Dataset"}, **opts)


def torch_loader(
    dataset: Any, *, batch_size: int = 256, shuffle: bool = True, seed: int = 0, **kw
) -> DataLoader:
    """A seeded DataLoader over a data set too big for memory (pinned memory when CUDA is present)."""
    kw.setdefault("pin_memory", torch.cuda.is_available())
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator(seed, Stream.LOADER_ORDER), **kw
    )
