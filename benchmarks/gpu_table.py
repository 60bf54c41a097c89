"""Rows of the one-shot GPU check (``benchmarks/gpu_check.sh``): JSON lines in, one Markdown table out.

Each benchmark run by the check appends one JSON object per measured number to a ``--json`` file as soon as it
has it (so a step that later hangs or crashes still leaves its numbers), with the fields every benchmark must
record (``spec/performance.md``): device, torch, dtype, memory format, batch, mode. The check then calls

    python benchmarks/gpu_table.py ROWS.jsonl [--out gpu_check.md]

which prints one Markdown table: every number, the baseline it is compared with (measured in the same
process), and, where the performance targets name that number, the target and whether it was met or by how
much it was missed. Rows with ``status`` (the steps themselves: tests, timeouts, failures) are in the same
table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

COLUMNS = (
    "step",
    "case",
    "device",
    "torch",
    "dtype",
    "memory format",
    "batch",
    "mode",
    "value",
    "vs baseline",
    "target",
    "result",
)


@dataclass(frozen=True)
class Target:
    """A performance target on the row with ``key``: on its ``ratio`` (vs its baseline) or its ``value``."""

    key: str
    field: str  # "ratio" | "value"
    op: str  # ">=" | "<="
    bound: float
    text: str


# The targets for one H100/H200-class GPU (anchors: spec/performance.md).
TARGETS = (
    Target("engine/fit/128", "ratio", ">=", 3.5, "≥ 3.5× naive"),
    Target("engine/fit/512", "ratio", ">=", 10.0, "≥ 10× naive"),
    Target("engine/fit/512", "value", ">=", 110_000, "≥ 110,000 img/s"),
    Target("parnet/streams_vs_resnet34/graph/1", "ratio", "<=", 1.0, "≤ 1.0× ResNet-34 (graphs)"),
    Target("parnet/deploy_vs_train/eager/1", "ratio", "<=", 0.7, "≤ 0.7× train form"),
    Target("watch/every10", "ratio", "<=", 1.10, "≤ 10% overhead"),
    Target("watch/callback_every10", "ratio", "<=", 1.10, "≤ 10% overhead"),
)


def device_name(device) -> str:
    """The device (a ``torch.device``) as the table names it: the GPU's name, or ``cpu``."""
    import torch  # lazily: printing the table needs no torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


def emit(path: str | None, **row) -> None:
    """Append one row (a JSON object) to ``path`` at once; a no-op when no path was given."""
    if not path:
        return
    import torch

    row.setdefault("torch", torch.__version__)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, default=str) + "\n")
        f.flush()


def read_rows(paths: list[str]) -> list[dict]:
    """Every row of the given JSONL files, in order; a truncated last line (a killed writer) is skipped."""
    rows = []
    for path in paths:
        if not Path(path).exists():
            continue
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def check(target: Target, row: dict) -> str:
    """``met`` or ``missed by X%`` (relative to the bound); ``no number`` when the row has none."""
    measured = row.get(target.field)
    if not isinstance(measured, (int, float)) or math.isnan(measured):
        return "no number"
    ok = measured >= target.bound if target.op == ">=" else measured <= target.bound
    if ok:
        return "met"
    return f"missed by {abs(measured / target.bound - 1):.0%}"


def format_value(row: dict) -> str:
    value, unit = row.get("value"), row.get("unit", "")
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    else:
        text = "–" if value is None else str(value)
    return f"{text} {unit}".strip()


def format_ratio(row: dict) -> str:
    ratio, baseline = row.get("ratio"), row.get("baseline")
    if not isinstance(ratio, (int, float)) or math.isnan(ratio):
        return "–"
    return f"{ratio:.2f}× {baseline}" if baseline else f"{ratio:.2f}×"


def cells(row: dict) -> list[str]:
    """The row's cells in ``COLUMNS`` order, with its targets (if any) checked."""
    targets = [t for t in TARGETS if t.key == row.get("key")]
    target = "; ".join(t.text for t in targets) or "–"
    if targets and row.get("device") == "cpu":  # the dry run's toy sizes: the targets are for a GPU
        result = "n/a (cpu)"
    else:
        result = "; ".join(check(t, row) for t in targets) or row.get("status", "–")
    values = {
        "step": row.get("step", "?"),
        "case": row.get("case", "?"),
        "device": row.get("device", "?"),
        "torch": row.get("torch", "?"),
        "dtype": row.get("dtype", "–"),
        "memory format": row.get("memory_format", "–"),
        "batch": row.get("batch", "–"),
        "mode": row.get("mode", "–"),
        "value": format_value(row),
        "vs baseline": format_ratio(row),
        "target": target,
        "result": result,
    }
    return [str(values[c]).replace("|", "/") for c in COLUMNS]


def markdown(rows: list[dict]) -> str:
    """One Markdown table of every row."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def study_row(directory: str, plans: list, device: str, label: str) -> dict:
    """The study step's row: how many of the planned runs are stored, by status, and the first error."""
    from depthlab.study.spec import run_hash
    from depthlab.study.store import Store

    keys = [run_hash(s) for p in plans for s in p.specs]
    with Store(directory) as store:
        rows = store.get_many(keys)
    statuses = [r["status"] for r in rows.values()]
    counts = {s: statuses.count(s) for s in ("ok", "diverged", "failed")}
    errors = [r.get("error") or "" for r in rows.values() if r["status"] == "failed"]
    status = "ok" if len(rows) == len(keys) else "partial (stopped at the time limit; a rerun resumes)"
    if counts["failed"]:
        status = f"failed: {errors[0].splitlines()[0][:200]}"
    return {
        "step": "study",
        "key": "study/quick",
        "case": f"{label} --device {device} ({len(plans)} presets)",
        "dtype": "fp32",
        "memory_format": "default",
        "batch": "per preset",
        "mode": "eager, local workers",
        "value": f"{len(rows)}/{len(keys)} stored: {counts['ok']} ok, {counts['diverged']} diverged,"
        f" {counts['failed']} failed",
        "status": status,
    }


def emit_study_row(path: str, directory: str, plans: list, device: str, label: str) -> int:
    """Append the study row to ``path``; 0 unless a run failed (a study cut short by the time limit is a
    partial result: every run it finished counts)."""
    row = study_row(directory, plans, device, label)
    import torch

    emit(path, device=device_name(torch.device("cpu" if device == "auto" else device)), **row)
    print(row["value"], "-", row["status"])
    return 1 if row["status"].startswith("failed") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="JSONL files written with --json")
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument(
        "--study", help="append the row of the study stored in this directory to ROWS, and stop"
    )
    parser.add_argument("--device", default="cuda", help="--study: the device the study ran with")
    parser.add_argument("--names", nargs="*", default=[], help="--study: the presets it ran (default: all)")
    args = parser.parse_args(argv)
    if args.study:
        from depthlab.study.plan import plan

        plans = plan(args.names or None, "quick", None, args.device)
        return emit_study_row(args.rows[0], args.study, plans, args.device, "depthlab study --quick")
    table = markdown(read_rows(args.rows))
    sys.stdout.write(table)
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
