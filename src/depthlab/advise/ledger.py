"""Every finished piece of an advice (probe, latency, rung run, final run) is one row of the study Store, so a
killed advise resumes where it stopped: a piece is keyed by the hash of what determines it (data, model,
training, depth, seed, steps), written only when finished, and read back instead of redone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from depthlab.study.spec import run_hash
from depthlab.study.store import Store

STUDY = "advise"


class Ledger:
    """Finished pieces of one advice, in ``out/results.sqlite``; counts what was reused and what was run."""

    def __init__(self, out: str | Path, context: Mapping[str, Any]):
        self.store = Store(out)
        self.context = dict(context)
        self.reused = 0
        self.ran = 0

    def spec(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"advise": kind, **self.context, **fields}

    def get_or_run(self, kind: str, fields: Mapping[str, Any], work: Callable[[], dict]) -> dict[str, Any]:
        """The stored result of this piece, or ``work()``'s, stored before it is returned."""
        spec = self.spec(kind, **fields)
        key = run_hash(spec)
        row = self.store.get(key)
        if row is not None and row["status"] != "failed":
            self.reused += 1
            return row["metrics"]
        result = work()
        self.store.put(key, STUDY, spec, {"status": result.get("status", "ok"), "metrics": result})
        self.ran += 1
        return result

    def close(self) -> None:
        self.store.close()
