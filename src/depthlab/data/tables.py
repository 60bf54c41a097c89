"""A user's table (a CSV / TSV / Parquet file, or a pandas DataFrame) to a Dataset: read it, pick the target,
drop identifiers, split, encode, and keep a record.

Reading: pandas is the field's de-facto table reader (types, quoting, compression by suffix); the only extra
pass is a field count per line with the standard ``csv`` module, because pandas quietly pads a short row with
missing values and the user should hear "line 7 has 2 fields, the header has 3" instead. Parquet needs pyarrow
(an optional extra). ``UserDataOptions`` are the options of every kind of a user's own data (tables, arrays,
torch and Hugging Face data sets).

Order matters: rows are split first, then every statistic (means, stds, categories, fill values) is fitted on
the training rows only and applied to all rows, so the validation and test rows stay unseen. Numbers are
standardized, strings one-hot; a category absent from the training rows encodes as all zeros, and only the
``max_categories`` most frequent training categories get a column (the rest share the all-zero code). A column
that is unique per row and not a float (an identifier) carries no signal to learn and is dropped with a note;
a column of dates becomes calendar features first (``depthlab.data.dates``; ``dates=raw`` keeps the text).
Missing values are an error naming each column and its count unless ``impute`` says what to do: ``mean`` /
``median`` fill numbers (strings get the most frequent training value), ``drop`` drops the rows. ``Scaling``
(``fit_scaling``) is the one fill-and-standardize path; arrays (``depthlab.data.arrays``) take it too.

The target: strings, booleans and integers with at most ``MAX_CLASSES`` distinct values are classes (sorted,
so label i is the i-th smallest); anything else numeric is a regression target, standardized with the training
rows' mean and std (kept in the metadata to map predictions back). ``Dataset.meta`` records what was done: the
file and its sha256, rows, the columns used and dropped, each column's encoding, the task and why, the splits.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from depthlab.data.dataset import Dataset
from depthlab.data.dates import DATES, expand_dates
from depthlab.data.splits import column_parts, describe_parts, seeded_parts, split_dataset
from depthlab.errors import DepthlabError, check, unknown

TASKS = ("classification", "regression")
IMPUTE = ("mean", "median", "drop")


@dataclass
class UserDataOptions:
    """What to predict and how to split; see the module docstring (docs/data.md has the details)."""

    target: str | None = None
    task: Literal["classification", "regression"] | None = None
    impute: Literal["mean", "median", "drop"] | None = None
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    split_column: str | None = None
    standardize: bool = True
    max_categories: int = 50
    header: bool = True
    skip_rows: int = 0
    sha256: str | None = None  # set by a study: the file must still have this content
    dates: Literal["features", "raw"] = "features"  # date columns to calendar features (data/dates.py)

    def __post_init__(self) -> None:
        check(self.dates in DATES, f"dates={self.dates!r}: valid choices are {', '.join(DATES)}")
        check(0.0 <= self.test_fraction < 1.0, f"test_fraction={self.test_fraction}: must be in [0, 1)")
        check(0.0 <= self.val_fraction < 1.0, f"val_fraction={self.val_fraction}: must be in [0, 1)")
        check(self.max_categories >= 1, f"max_categories={self.max_categories}: must be >= 1")
        check(self.skip_rows >= 0, f"skip_rows={self.skip_rows}: must be >= 0")


PARQUET = (".parquet", ".pq")


def separator(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def _text(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DepthlabError(f"{path}: not a readable gzip file ({err})") from None
    if b"\x00" in raw[:8192]:
        raise DepthlabError(f"{path}: not a text table (binary content)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # a legacy single-byte encoding: every byte decodes


def check_rectangular(path: Path, text: str, sep: str, skip_rows: int) -> None:
    """Raise naming the first line whose field count differs from the header's (blank lines are skipped)."""
    rows = csv.reader(io.StringIO(text), delimiter=sep)
    width, first = None, None
    for number, row in enumerate(rows, start=1):
        if number <= skip_rows or not row:
            continue
        if width is None:
            width, first = len(row), number
        elif len(row) != width:
            raise DepthlabError(
                f"{path}: ragged rows: line {number} has {len(row)} fields, line {first} has {width}"
            )
    if width is None:
        raise DepthlabError(f"{path}: the file is empty (no header, no rows)")


def read_text_table(path: Path, options: UserDataOptions) -> pd.DataFrame:
    text = _text(path)
    if not text.strip():
        raise DepthlabError(f"{path}: the file is empty")
    sep = separator(path)
    check_rectangular(path, text, sep, options.skip_rows)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, skiprows=options.skip_rows, header=0 if options.header else None
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DepthlabError(f"{path}: not a table ({' '.join(str(err).split())})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq  # lazy: an optional extra
    except ImportError:
        raise DepthlabError(
            f"{path}: reading Parquet needs pyarrow: pip install 'depthlab[parquet]'"
        ) from None
    try:
        return pq.read_table(path).to_pandas()
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError and others for a damaged file
        raise DepthlabError(f"{path}: not a readable Parquet file ({' '.join(str(err).split())})") from None


def read_table(path: Path, options: UserDataOptions) -> pd.DataFrame:
    """The file as a DataFrame with string column names; an empty, ragged or unreadable file raises."""
    is_parquet = path.name.lower().endswith(PARQUET)
    frame = read_parquet(path) if is_parquet else read_text_table(path, options)
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise DepthlabError(f"{path}: the table has a header but no rows")
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise DepthlabError(f"{path}: duplicated column names {duplicated}")
    return frame


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


MAX_CLASSES = 20


def _integral(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if not pd.api.types.is_float_dtype(values):
        return False
    finite = values.dropna().to_numpy()
    return bool(len(finite)) and bool(np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)))


def infer_task(values: pd.Series, name: str) -> tuple[str, str]:
    """(task, why) from a target's values."""
    distinct = values.nunique(dropna=True)
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification", f"target {name!r} holds {distinct} distinct non-numeric values"
    if _integral(values) and distinct <= MAX_CLASSES:
        return "classification", f"target {name!r} holds {distinct} distinct integers"
    return "regression", f"target {name!r} holds {distinct} distinct numbers"


def class_labels(values: pd.Series, name: str) -> tuple[torch.Tensor, list[str]]:
    """(int64 labels, class names) for a classification target; one class only raises."""
    classes = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DepthlabError(
            f"target {name!r} has one class only ({classes[0]!r}); classification needs at least two"
        )
    index = {value: i for i, value in enumerate(classes)}
    labels = torch.tensor([index[v] for v in values.tolist()], dtype=torch.int64)
    return labels, [str(c) for c in classes]


def regression_values(values: pd.Series, name: str) -> torch.Tensor:
    """(N, 1) float32 targets; a non-numeric target raises."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DepthlabError(f"target {name!r} is not numeric ({values.dtype}); task=regression needs numbers")
    return torch.tensor(values.to_numpy(dtype=np.float64), dtype=torch.float32).reshape(-1, 1)


def standardize_target(y: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
    """Regression targets standardized by the training rows' mean and std."""
    mean, std = y[train].mean(0), y[train].std(0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (y - mean) / std, {"target_mean": mean.tolist(), "target_std": std.tolist()}


TARGET_NAMES = ("target", "label", "labels", "y", "class")


def pick_target(frame: pd.DataFrame, target: str | None, notes: list[str]) -> str:
    """The target column: the one named, else one called target/label/y/class, else the last column."""
    names = list(frame.columns)
    if target is not None:
        if target not in names:
            raise unknown("target column", target, names)
        return target
    chosen = next((n for n in names if n.lower() in TARGET_NAMES), names[-1])
    notes.append(f"target: column {chosen!r} (not given; pass target=COLUMN / --target COLUMN to choose)")
    return chosen


def feature_columns(
    frame: pd.DataFrame, target: str, split_column: str | None, notes: list[str]
) -> list[str]:
    """Every column but the target, the split column and identifiers (each dropped one gets a note)."""
    if split_column is not None and split_column not in frame.columns:
        raise unknown("split column", split_column, list(frame.columns))
    candidates = [c for c in frame.columns if c not in (target, split_column)]
    ids = id_like(frame, candidates)
    for name in ids:
        notes.append(f"dropped column {name!r}: unique per row (an identifier, not a feature)")
    features = [c for c in candidates if c not in ids]
    check(
        bool(features), f"no feature columns besides the target {target!r} (columns: {list(frame.columns)})"
    )
    return features


def drop_missing(frame: pd.DataFrame, used: list[str], target: str, impute: str | None, notes: list[str]):
    """Rows kept after the missing-value rule (every row, or without missing values / missing targets)."""
    check_finite(frame, used)
    counts = missing_counts(frame, used)
    check_missing(counts, impute)
    subset = used if impute == "drop" else [target]
    kept = frame.dropna(subset=subset)
    if len(kept) < len(frame):
        why = "a missing value" if impute == "drop" else "a missing target"
        notes.append(f"dropped {len(frame) - len(kept)} rows with {why}")
    if counts and impute != "drop":
        notes.append(f"imputed missing values by the training {impute} ({counts})")
    check(len(kept) > 0, "no rows left after dropping the rows with missing values")
    return kept.reset_index(drop=True)


def encode_target(values: pd.Series, task: str | None, notes: list[str]) -> tuple[str, torch.Tensor, list]:
    """(task, targets, class names) with the task inferred unless given."""
    name = str(values.name)
    if task is None:
        task, why = infer_task(values, name)
        other = "regression" if task == "classification" else "classification"
        notes.append(f"task: {task} ({why}; pass task={other} to change)")
    if task == "classification":
        labels, classes = class_labels(values, name)
        return task, labels, classes
    return task, regression_values(values, name), []


def split_rows(frame: pd.DataFrame, y: torch.Tensor, task: str, classes: list, options, seed: int):
    """(row indices per split, how they were made): the split column, or seeded (stratified) fractions."""
    if options.split_column is not None:
        return column_parts(frame[options.split_column].tolist(), options.split_column), "split column"
    labels = y if task == "classification" else None
    parts = seeded_parts(labels, classes, len(frame), options.test_fraction, options.val_fraction, seed)
    return parts, f"seeded{' stratified' if labels is not None else ''} (test fixed, val seed {seed})"


def encode_features(frame: pd.DataFrame, train: torch.Tensor, features: list[str], options) -> tuple:
    """(features of every row, the fitted columns): statistics from the training rows only."""
    rows = frame.iloc[train.numpy()]
    fitted = [
        fit_column(rows[c], options.impute, options.max_categories, options.standardize) for c in features
    ]
    return torch.from_numpy(transform(frame, fitted)), fitted


def frame_to_dataset(
    frame: pd.DataFrame, options: UserDataOptions, seed: int, name: str, meta: dict
) -> Dataset:
    """The Dataset of a table; see the module docstring."""
    notes: list[str] = []
    target = pick_target(frame, options.target, notes)
    others = [c for c in frame.columns if c not in (target, options.split_column)]
    frame = expand_dates(frame, others, options.dates, notes)
    features = feature_columns(frame, target, options.split_column, notes)
    frame = drop_missing(frame, features + [target], target, options.impute, notes)
    task, y, classes = encode_target(frame[target], options.task, notes)
    parts, how = split_rows(frame, y, task, classes, options, seed)
    x, fitted = encode_features(frame, parts["train"], features, options)
    record: dict[str, Any] = {}
    if task == "regression":
        y, record = standardize_target(y, parts["train"])
    meta = {
        **meta,
        "rows": len(frame),
        "target": target,
        "task": task,
        "columns": features,
        "features": len(feature_names(fitted)),
        "encodings": {c.name: c.describe() for c in fitted},
        "split": describe_parts(parts, how),
        "notes": notes,
        **({"classes": classes} if classes else {}),
        **record,
    }
    num_classes = len(classes) if task == "classification" else 1
    return split_dataset(name, x, y, parts, task, num_classes, meta)
