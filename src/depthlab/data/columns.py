"""Table columns to features: numbers standardized, strings one-hot, statistics from the training rows only.

Fitting on the training split alone keeps the validation and test rows unseen (no leakage of their means or
categories). A category absent from the training rows encodes as all zeros; only the ``max_categories`` most
frequent training categories get a column (the rest share the all-zero code). A column that is unique per row
and not a float (an identifier) carries no signal to learn and is dropped with a note. Missing values are an
error naming each column and its count unless ``impute`` says what to do: ``mean`` / ``median`` fill numbers
(strings get the most frequent training value), ``drop`` drops the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from depthlab.errors import DepthlabError

MIN_ROWS_FOR_ID = 10  # below this, a column of distinct values is as likely a feature as an identifier


@dataclass
class Scaling:
    """Per-feature fill values and standardization fitted on the training rows; tables and arrays share it,
    so a CSV and the same numbers as ``(X, y)`` arrays become the same tensors."""

    fill: np.ndarray | None  # (features,) training mean/median, or None without imputation
    mean: np.ndarray  # (features,) of the filled training rows (0 when not standardizing)
    # (features,) population std of the filled training rows (1 where constant or not standardizing)
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(rows, features) float32: missing values filled, then standardized, in float64 until the end."""
        x = np.asarray(x, dtype=np.float64)
        if self.fill is not None:
            x = np.where(np.isnan(x), self.fill, x)
        return ((x - self.mean) / self.std).astype(np.float32)


def fit_scaling(train: np.ndarray, impute: str | None, standardize: bool, names: list[str]) -> Scaling:
    """Fill values (the training mean or median; none without ``impute``) and the training mean/std of the
    filled rows, per column of ``train`` (rows, features); ``names`` name the columns in errors."""
    # Column-major, so each column is summed over contiguous memory: a column alone and the same column
    # inside a wide array then sum in the same order and give the same bits.
    train = np.asfortranarray(train, dtype=np.float64)
    features = train.shape[1]
    fill = None
    if impute is not None:
        empty = np.nonzero(np.isnan(train).all(axis=0))[0]
        if len(empty):
            raise DepthlabError(f"{names[empty[0]]} has no value in the training rows to impute from")
        fill = (np.nanmedian if impute == "median" else np.nanmean)(train, axis=0)
        train = np.asfortranarray(np.where(np.isnan(train), fill, train))
    if not standardize:
        return Scaling(fill, np.zeros(features), np.ones(features))
    std = train.std(axis=0)
    return Scaling(fill, train.mean(axis=0), np.where(std > 0, std, 1.0))


@dataclass
class Column:
    """How one column becomes features: ``numeric`` (one standardized column) or ``categorical`` (one-hot)."""

    name: str
    kind: str
    fill: Any = None
    mean: float = 0.0
    std: float = 1.0
    categories: list[Any] = field(default_factory=list)

    def scaling(self) -> Scaling:
        """This numeric column's fill and standardization as the shared table/array path takes them."""
        fill = None if self.fill is None else np.array([self.fill])
        return Scaling(fill, np.array([self.mean]), np.array([self.std]))

    def describe(self) -> dict[str, Any]:
        if self.kind == "numeric":
            return {"kind": "standardized", "mean": self.mean, "std": self.std}
        return {"kind": "one-hot", "categories": [str(c) for c in self.categories]}


def is_categorical(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values) or isinstance(values.dtype, pd.CategoricalDtype)


def id_like(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns that are unique per row and not floats: identifiers, not features."""
    if len(frame) < MIN_ROWS_FOR_ID:
        return []
    return [
        c
        for c in columns
        if not pd.api.types.is_float_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and frame[c].nunique(dropna=True) == len(frame)
    ]


def missing_counts(frame: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    """Missing values per column (only columns that have some)."""
    counts = frame[columns].isna().sum()
    return {c: int(n) for c, n in counts.items() if n}


def check_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    """Infinite numbers cannot be standardized: one error naming each column and its count."""
    numeric = [c for c in columns if pd.api.types.is_float_dtype(frame[c])]
    counts = {c: int(n) for c in numeric if (n := np.isinf(frame[c].to_numpy()).sum())}
    if counts:
        listed = ", ".join(f"{c!r} ({n})" for c, n in counts.items())
        raise DepthlabError(f"infinite values in {listed}; replace or drop those rows")


def check_missing(counts: dict[str, int], impute: str | None) -> None:
    """Without ``impute``, any missing value is an error naming the columns and counts."""
    if counts and impute is None:
        listed = ", ".join(f"{c!r} ({n})" for c, n in counts.items())
        raise DepthlabError(
            f"missing values in {len(counts)} column{'s' * (len(counts) != 1)}: {listed}; "
            "pass impute=mean, impute=median or impute=drop (--impute)"
        )


def fit_column(values: pd.Series, impute: str | None, max_categories: int, standardize: bool) -> Column:
    """A column's encoding fitted on its training values (numbers through the path arrays take too)."""
    if is_categorical(values):
        present = values.dropna()
        counts = present.value_counts(sort=False)
        ranked = sorted(counts.index.tolist(), key=lambda v: (-counts[v], str(v)))
        fill = ranked[0] if ranked else None
        return Column(
            str(values.name), "categorical", fill, categories=sorted(ranked[:max_categories], key=str)
        )
    name = f"column {values.name!r}"
    scaling = fit_scaling(values.astype(np.float64).to_numpy()[:, None], impute, standardize, [name])
    fill = None if scaling.fill is None else float(scaling.fill[0])
    return Column(str(values.name), "numeric", fill, float(scaling.mean[0]), float(scaling.std[0]))


def transform(frame: pd.DataFrame, columns: list[Column]) -> np.ndarray:
    """(rows, features) float32 from fitted columns, in column order."""
    blocks = []
    for col in columns:
        values = frame[col.name]
        if col.kind == "numeric":
            blocks.append(col.scaling().apply(values.astype(np.float64).to_numpy()[:, None]))
        else:
            if col.fill is not None:
                values = values.fillna(col.fill)
            known = values.where(values.isin(col.categories))  # unseen in training -> missing -> code -1
            codes = pd.Categorical(known, categories=col.categories).codes
            onehot = np.zeros((len(values), len(col.categories)))
            rows = np.nonzero(codes >= 0)[0]
            onehot[rows, codes[rows]] = 1.0
            blocks.append(onehot)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def feature_names(columns: list[Column]) -> list[str]:
    """One name per feature: the column, or ``column=category`` for one-hot features."""
    return [
        name
        for col in columns
        for name in ([col.name] if col.kind == "numeric" else [f"{col.name}={c}" for c in col.categories])
    ]
