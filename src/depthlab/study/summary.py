"""The verdicts in the terminal: one line per study (outcome, the deciding clause, its effect and interval),
the counts, in the style of pytest's summary; and ``verdicts.json``, the same records for programs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from depthlab import atomic, stats
from depthlab.study.presets.base import Finding

FILE = "verdicts.json"


def record(name: str, finding: Finding) -> dict[str, Any]:
    """One study's verdict as a plain record: the clause that decided (the first clause when all held)."""
    clause = stats.deciding(finding.clauses) or (finding.clauses[0] if finding.clauses else None)
    out: dict[str, Any] = {"study": name, "outcome": finding.outcome, "verdict": finding.verdict}
    if clause is not None:
        c = clause.comparison
        out |= {
            "clause": c.name,
            "effect": clause.interval.format(c.scale, c.unit),
            "reason": clause.reason,
        }
    return out


def write(records: list[dict[str, Any]], out: Path) -> Path:
    return atomic.write_text(out / FILE, json.dumps(records, indent=1, allow_nan=False) + "\n")


def read(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / FILE
    return json.loads(path.read_text()) if path.exists() else []


def line(rec: dict[str, Any], width: int) -> str:
    """'held          residual        plain degrades: +60.1 [+55.0, +65.2] pts (n=5, paired t)'."""
    head = f"{rec['outcome']:<13} {rec['study']:<{width}}"
    if "clause" not in rec:
        return f"{head} {rec['verdict']}"
    why = f" — {rec['reason']}" if rec.get("reason") and rec["outcome"] != stats.HELD else ""
    return f"{head} {rec['clause']}: {rec['effect']}{why}"


def lines(records: list[dict[str, Any]], seconds: float | None = None) -> list[str]:
    """The summary: one line per study, then the counts (and the wall time when given)."""
    if not records:
        return []
    width = max(len(r["study"]) for r in records)
    counts = Counter(r["outcome"] for r in records)
    tally = ", ".join(f"{counts[o]} {o}" for o in stats.OUTCOMES if counts[o])
    took = f" in {seconds:.0f}s" if seconds is not None else ""
    rule = f" {len(records)} studies: {tally}{took} "
    return [line(r, width) for r in records] + [f"{rule:=^100}"]
