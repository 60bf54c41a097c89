"""A study's stored runs as one tidy pandas DataFrame: one row per run, the config flattened into columns.

Columns, left to right: ``hash``, ``study``, ``status``; the grid coordinates (``tags``: ``depth``,
``variant``...) under their own names; the final metrics with a number or text value (``test_acc``...) under
their own names, as in ``results.csv``; then the whole run spec flattened with dotted names
(``model.depth``, ``model.norm``, ``train.lr``, ``data.name``, ``seed``...); then ``error``, ``fit_seconds``,
``run_seconds`` and ``finished_at`` (Unix time). Read from the study directory's SQLite store, so it works on
a study still running and on every study written to the same directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from depthlab.errors import DepthlabError
from depthlab.study.store import DB_NAME, Store

TIMES = ("error", "fit_seconds", "run_seconds", "finished_at")


def results(out: str | Path):
    """The runs stored in the study directory ``out`` as a ``pandas.DataFrame`` (one row per run)."""
    import pandas as pd  # pandas takes a noticeable part of a second to import; only this reader needs it

    if not (Path(out) / DB_NAME).is_file():
        raise DepthlabError(f"{str(out)!r}: no study results here (no {DB_NAME}); run `depthlab study` first")
    with Store(out) as store:
        records = [run_record(row) for row in store.all_rows()]
    return pd.DataFrame.from_records(records)


def run_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One stored run as a flat dict (the DataFrame's row)."""
    spec = dict(row["spec"])
    record = {"hash": row["hash"], "study": row["study"], "status": row["status"]}
    record |= spec.pop("tags", {}) or {}
    metrics = row["metrics"] or {}
    record |= {k: v for k, v in metrics.items() if v is None or isinstance(v, (int, float, str))}
    record |= flatten(spec)
    return record | {k: row[k] for k in TIMES}


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"depth": 8}}`` -> ``{"model.depth": 8}``; lists and other leaves stay as they are."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat |= flatten(item, f"{name}.")
        else:
            flat[name] = item
    return flat
