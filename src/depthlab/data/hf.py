"""A Hugging Face ``datasets.Dataset`` (or a ``DatasetDict`` with train/validation/test splits) as a Dataset.

Optional: ``pip install 'depthlab[hf]'``. Scalar columns go through the table path (standardized numbers,
one-hot strings, fitted on the training split); a single array-valued feature column (an image, an embedding)
goes through the array path. A DatasetDict's own splits are kept (as a split column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from depthlab.data.arrays import from_arrays
from depthlab.data.dataset import Dataset
from depthlab.errors import DepthlabError

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
    from depthlab import config as cfg
    from depthlab.data.tabular import frame_to_dataset
    from depthlab.data.user_options import UserDataOptions

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
