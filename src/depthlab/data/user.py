"""A user's own data: a path (a table, arrays, a text file, an image folder) or a Python object, to a registry
entry or a Dataset.

``entry_for(path)`` gives the registry entry of a file or folder, so ``load_dataset``, ``dataset_options`` and
everything that routes ``key=value`` options work on paths as on names. A name that is not a registered data
set is read as a path when it names an existing file or folder, or looks like one (a path separator or a known
suffix), so a typo in a registered name still gets "did you mean". The sha256 of a file (or, for an image
folder, of its file names and sizes) is what studies key runs on, so an edited file reruns; it is cached per
(path, size, mtime) so a study hashes each file once.

``load_object`` takes ``(X, y)``, a pandas DataFrame, a torch Dataset or a Hugging Face dataset. A torch
Dataset of ``(x, y)`` items is materialized into tensors when it fits in memory (the fast path: batches are
index slices on the device); past ``max_in_memory_bytes`` (4 GiB by default, estimated from the first item)
``from_torch`` refuses with the way out, ``torch_loader``. A Hugging Face ``datasets.Dataset`` (optional:
``pip install 'depthlab[hf]'``) goes through the table path when its columns are scalars, through the array
path when one feature column holds arrays (an image, an embedding); a ``DatasetDict``'s own splits are kept
(as a split column).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from depthlab import config as cfg
from depthlab.data.arrays import arrays_to_dataset, from_arrays, read_arrays
from depthlab.data.dataset import Dataset, DatasetEntry
from depthlab.data.imagefolder import ImageFolderOptions, load_image_folder
from depthlab.data.tables import UserDataOptions, frame_to_dataset, read_table
from depthlab.data.text import TextFileOptions, read_text_file, text_dataset
from depthlab.errors import DepthlabError, check
from depthlab.seeds import Stream, generator

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz", ".parquet", ".pq")
ARRAY_SUFFIXES = (".npz", ".npy")
TEXT_SUFFIXES = (".txt",)  # plain text for a character-level language model (``data.text``)
SUFFIXES = TABLE_SUFFIXES + ARRAY_SUFFIXES + TEXT_SUFFIXES
_HASHES: dict[tuple[str, int, int], str] = {}


def looks_like_path(name: object) -> bool:
    """Whether ``name`` is meant as a path (it exists, has a separator, or ends in a data-file suffix)."""
    if isinstance(name, Path):
        return True
    if not isinstance(name, str) or not name:
        return False
    text = name.lower()
    return os.sep in name or "/" in name or text.endswith(SUFFIXES) or Path(name).expanduser().exists()


def resolve(name: str | Path) -> Path:
    """The absolute path of a data file or folder; one that does not exist raises naming what is accepted."""
    path = Path(name).expanduser()
    if not path.exists():
        raise DepthlabError(
            f"data file {str(name)!r} does not exist (a data set name, or a path to a "
            f"{'/'.join(s.lstrip('.') for s in SUFFIXES)} file or an image folder)"
        )
    return path.resolve()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_sha256(path: Path) -> str:
    """sha256 of an image folder's relative file names and sizes (an added or replaced image changes it)."""
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{item.stat().st_size}\n".encode())
    return digest.hexdigest()


def source_sha256(path: Path) -> str:
    """The content hash of a data file or folder, cached per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = folder_sha256(path) if path.is_dir() else file_sha256(path)
    return _HASHES[key]


def check_unchanged(path: Path, expected: str | None) -> str:
    """The source's sha256; raises when ``expected`` is given and differs (the file was edited)."""
    actual = source_sha256(path)
    if expected is not None and actual != expected:
        raise DepthlabError(
            f"{path}: content changed (sha256 {actual[:12]}, expected {expected[:12]}); plan the study again"
        )
    return actual


def _file_meta(path: Path, sha256: str | None) -> dict[str, Any]:
    return {"source": "file", "file": str(path), "sha256": check_unchanged(path, sha256)}


def load_table_file(path: Path, options: UserDataOptions, seed: int) -> Dataset:
    meta = _file_meta(path, options.sha256)
    return frame_to_dataset(read_table(path, options), options, seed, path.name, meta)


def load_array_file(path: Path, options: UserDataOptions, seed: int) -> Dataset:
    meta = _file_meta(path, options.sha256)
    x, y = read_arrays(path, options.target)
    return arrays_to_dataset(x, y, options, seed, path.name, meta)


def load_text_file(path: Path, options: TextFileOptions, seed: int) -> Dataset:
    meta = _file_meta(path, options.sha256)
    return text_dataset(path.name, read_text_file(path), options, seed, meta)


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
    if suffix.endswith(TEXT_SUFFIXES):
        return DatasetEntry(TextFileOptions, lambda options, seed: load_text_file(path, options, seed), {})
    known = ", ".join(SUFFIXES)
    raise DepthlabError(
        f"{path}: unknown data file type {path.suffix!r} (known: {known}, or an image folder)"
    )


def load_object(obj: Any, seed: int = 0, **opts: Any) -> Dataset:
    """A Dataset from ``(X, y)``, a torch Dataset, a Hugging Face dataset or a pandas DataFrame."""
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


SPLIT_COLUMN = "__split__"


def is_hf(obj: Any) -> bool:
    """Whether ``obj`` is a Hugging Face Dataset or DatasetDict (without importing ``datasets``)."""
    return type(obj).__module__.startswith("datasets.") and type(obj).__name__ in ("Dataset", "DatasetDict")


def _frame(obj: Any) -> pd.DataFrame:
    if type(obj).__name__ != "DatasetDict":
        return obj.to_pandas()
    frames = []
    for split, part in obj.items():
        frame = part.to_pandas()
        frame[SPLIT_COLUMN] = split
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def from_hf(obj: Any, *, target: str | None = None, name: str = "hf", seed: int = 0, **opts: Any) -> Dataset:
    """The Dataset of a Hugging Face data set; options as ``load_dataset``."""
    frame = _frame(obj)
    if SPLIT_COLUMN in frame.columns:
        opts.setdefault("split_column", SPLIT_COLUMN)
    meta = {"source": "Hugging Face datasets", "hf_columns": [c for c in frame.columns if c != SPLIT_COLUMN]}
    arrays = [c for c in frame.columns if len(frame) and isinstance(frame[c].iloc[0], (list, np.ndarray))]
    if not arrays:
        options = cfg.build(UserDataOptions, {**opts, "target": target})
        return frame_to_dataset(frame, options, seed, name, meta)
    if len(arrays) > 1 or target is None or target not in frame.columns:
        raise DepthlabError(
            f"{name}: array columns {arrays}: name the target (target=COLUMN), keep one array feature column"
        )
    x = np.stack([np.asarray(v, dtype=np.float32) for v in frame[arrays[0]]])
    split = opts.pop("split_column", None)
    if split is not None:
        raise DepthlabError(f"{name}: an array feature with its own splits is not supported; pass one split")
    return from_arrays(x, frame[target].to_numpy(), name=name, seed=seed, meta=meta, **opts)


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
