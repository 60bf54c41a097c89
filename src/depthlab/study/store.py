"""The results database: one SQLite file (WAL mode) in the study directory, one row per finished run.

Durability rules, so a ``kill -9`` at any moment loses no finished run and leaves no duplicate:

- the primary key is the run hash, so a run can never have two rows;
- a run is written only when it has finished (ok, diverged or failed), in one transaction, so a row is either
  all there or absent; an absent row is an unfinished run and the next invocation redoes it;
- WAL mode with ``synchronous=NORMAL`` keeps committed transactions across a process crash (a power loss may
  drop the last few, which are then simply rerun).

Sharing: any number of processes may read and write the database at once (SQLite serializes writers; a busy
timeout makes them wait instead of failing). The study runner additionally holds ``DirLock`` on the directory
so two runners do not train the same runs twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from depthlab.errors import DepthlabError

DB_NAME = "results.sqlite"
FINISHED = ("ok", "diverged", "failed")
_JSON_COLUMNS = ("spec", "metrics", "history", "diagnostics", "env")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    hash TEXT PRIMARY KEY,
    study TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'diverged', 'failed')),
    spec TEXT NOT NULL,
    metrics TEXT NOT NULL,
    history TEXT NOT NULL,
    diagnostics TEXT NOT NULL,
    error TEXT,
    fit_seconds REAL,
    run_seconds REAL,
    env TEXT NOT NULL,
    finished_at REAL NOT NULL
)
"""


class Store:
    """Finished runs keyed by run hash; every write is one transaction."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise DepthlabError(f"cannot open results database {str(self.path)!r}: {err}") from None

    def finished_hashes(self, statuses: Iterable[str] = FINISHED) -> set[str]:
        """Hashes of the runs stored with one of ``statuses``."""
        statuses = tuple(statuses)
        marks = ",".join("?" * len(statuses))
        rows = self._db.execute(f"SELECT hash FROM runs WHERE status IN ({marks})", statuses)
        return {row[0] for row in rows}

    def put(self, key: str, study: str, spec: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        """Write one finished run (replacing an earlier row of the same hash) in a single transaction."""
        row = (
            key,
            study,
            result["status"],
            _dumps(spec),
            _dumps(result.get("metrics", {})),
            _dumps(result.get("history", {})),
            _dumps(result.get("diagnostics", {})),
            result.get("error"),
            result.get("fit_seconds"),
            result.get("run_seconds"),
            _dumps(result.get("env", {})),
            time.time(),
        )
        with self._db:  # BEGIN ... COMMIT, or ROLLBACK on error
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored row of ``key`` as a dict (JSON columns decoded), or None."""
        rows = self.get_many([key])
        return rows.get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored rows by hash for the given keys (missing keys are absent)."""
        keys = list(keys)
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start : start + 500]
            cursor = self._db.execute(
                f"SELECT * FROM runs WHERE hash IN ({','.join('?' * len(chunk))})", chunk
            )
            out |= {row["hash"]: row for row in _decoded(cursor)}
        return out

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row (JSON columns decoded), in the order the runs finished."""
        return _decoded(self._db.execute("SELECT * FROM runs ORDER BY finished_at, hash"))

    def latest_environment(self) -> dict[str, Any]:
        """The environment stored with the most recently finished run ({} when there is none)."""
        row = self._db.execute("SELECT env FROM runs ORDER BY finished_at DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else {}

    def count(self) -> int:
        """Number of stored runs."""
        return self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _decoded(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    rows = []
    for values in cursor:
        row = dict(zip(names, values, strict=True))
        for column in _JSON_COLUMNS:
            row[column] = json.loads(row[column]) if row[column] is not None else None
        rows.append(row)
    return rows


def _dumps(value: Any) -> str:
    # allow_nan=False would reject diverged losses; NaN/inf are stored as JSON's NaN/Infinity tokens on
    # purpose.
    return json.dumps(value, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, os.PathLike):
        return str(value)
    return str(value)
