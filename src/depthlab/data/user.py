"""Where a user's own data enters the registry: a path (table, arrays, image folder) or a Python object.

``entry_for(path)`` gives the registry entry of a file or folder, so ``load_dataset``, ``dataset_options`` and
everything that routes ``key=value`` options work on paths as on names. ``load_object`` takes ``(X, y)``,
a torch Dataset, a Hugging Face dataset or a pandas DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab import config as cfg
from depthlab.data.dataset import Dataset
from depthlab.data.entry import DatasetEntry
from depthlab.data.imagefolder import ImageFolderOptions, load_image_folder
from depthlab.data.sources import ARRAY_SUFFIXES, TABLE_SUFFIXES, check_unchanged, resolve
from depthlab.data.user_options import UserDataOptions
from depthlab.errors import DepthlabError


def _file_meta(path: Path, sha256: str | None) -> dict[str, Any]:
    return {"source": "file", "file": str(path), "sha256": check_unchanged(path, sha256)}


def load_table_file(path: Path, options: UserDataOptions, seed: int) -> Dataset:
    from depthlab.data.tables import read_table
    from depthlab.data.tabular import frame_to_dataset

    meta = _file_meta(path, options.sha256)
    return frame_to_dataset(read_table(path, options), options, seed, path.name, meta)


def load_array_file(path: Path, options: UserDataOptions, seed: int) -> Dataset:
    from depthlab.data.arrays import arrays_to_dataset, read_arrays

    meta = _file_meta(path, options.sha256)
    x, y = read_arrays(path, options.target)
    return arrays_to_dataset(x, y, options, seed, path.name, meta)


@dataclass
class FolderOptions(ImageFolderOptions):
    """An image folder given by path: ``root`` is set from it; ``sha256`` (set by a study) pins its files."""

    sha256: str | None = None


def _image_entry(path: Path):
    def load(options: FolderOptions, seed: int) -> Dataset:
        data = load_image_folder(options, seed)
        rows = len(data.y_train) + len(data.y_val) + len(data.y_test)
        data.meta |= _file_meta(path, options.sha256) | {"rows": rows, "task": data.task}
        data.name = path.name
        return data

    return DatasetEntry(FolderOptions, load, {"root": str(path)}, layout="image")


def entry_for(name: str | Path):
    """The registry entry of a data file or folder (an unknown suffix raises naming the known ones)."""
    path = resolve(name)
    if path.is_dir():
        return _image_entry(path)
    suffix = path.name.lower()
    if suffix.endswith(TABLE_SUFFIXES):
        return DatasetEntry(UserDataOptions, lambda options, seed: load_table_file(path, options, seed), {})
    if suffix.endswith(ARRAY_SUFFIXES):
        return DatasetEntry(UserDataOptions, lambda options, seed: load_array_file(path, options, seed), {})
    known = ", ".join(TABLE_SUFFIXES + ARRAY_SUFFIXES)
    raise DepthlabError(
        f"{path}: unknown data file type {path.suffix!r} (known: {known}, or an image folder)"
    )


def load_object(obj: Any, seed: int = 0, **opts: Any) -> Dataset:
    """A Dataset from ``(X, y)``, a torch Dataset, a Hugging Face dataset or a pandas DataFrame."""
    import pandas as pd
    import torch

    from depthlab.data.arrays import from_arrays
    from depthlab.data.hf import from_hf, is_hf
    from depthlab.data.tabular import frame_to_dataset
    from depthlab.data.torch_data import from_torch

    if isinstance(obj, Dataset):
        return obj
    if isinstance(obj, pd.DataFrame):
        return frame_to_dataset(obj, cfg.build(UserDataOptions, opts), seed, "table", {"source": "DataFrame"})
    if is_hf(obj):
        return from_hf(obj, seed=seed, **opts)
    if isinstance(obj, torch.utils.data.Dataset):
        return from_torch(obj, seed=seed, **opts)
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        return from_arrays(obj[0], obj[1], seed=seed, **opts)
    raise DepthlabError(
        f"cannot load data from a {type(obj).__name__}: give a data set name, a path, (X, y) arrays, "
        "a torch Dataset, a Hugging Face dataset or a pandas DataFrame"
    )
