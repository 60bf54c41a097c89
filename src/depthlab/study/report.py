"""The report: one self-contained ``report.html`` (plots inline as base64 PNG, no external requests), the
PNGs, and a tidy ``results.csv``, all computed from the stored results only and written atomically.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab import atomic, stats
from depthlab.page import figure_png, png_base64, render_page
from depthlab.study import summary
from depthlab.study.plan import Plan, command, device_of, own_of, reproduce
from depthlab.study.presets.base import Finding, Row
from depthlab.study.presets.plotting import PALETTE
from depthlab.study.spec import run_hash
from depthlab.study.store import Store
from depthlab.study.template import REPORT_TEMPLATE


@dataclass
class Section:
    """One study in the report."""

    name: str
    claim: str
    anchor: str
    data: str
    note: str
    finding: Finding
    png_base64: str
    command: str
    counts: dict[str, int]


def rows_for(plan: Plan, store: Store) -> list[Row]:
    """The plan's specs joined with their stored results: tags + status + metrics + diagnostics."""
    stored = store.get_many(run_hash(s) for s in plan.specs)
    rows = []
    for spec in plan.specs:
        key = run_hash(spec)
        row = stored.get(key) or {"status": "missing", "metrics": {}, "diagnostics": {}, "history": {}}
        rows.append(
            {
                **spec.get("tags", {}),
                "hash": key,
                "status": row["status"],
                "metrics": row["metrics"] or {},
                "diagnostics": row["diagnostics"] or {},
                "history": row["history"] or {},
                "error": row.get("error"),
                "fit_seconds": row.get("fit_seconds"),
                "run_seconds": row.get("run_seconds"),
            }
        )
    return rows


def render_png(plan: Plan, rows: list[Row]) -> bytes:
    """The study's figure as PNG bytes (a bare matplotlib Figure: no pyplot, the user's backend untouched;
    imported here because matplotlib is slow to import and only the report needs it)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 3.8), dpi=90, layout="constrained")
    if any(r["status"] in ("ok", "diverged") for r in rows):
        plan.study.plot(rows, figure)
    else:
        figure.text(0.5, 0.5, "no finished runs yet", ha="center", va="center")
    return figure_png(figure)


def _counts(rows: list[Row]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[row["status"]] = out.get(row["status"], 0) + 1
    return out


def build_sections(plans: list[Plan], out: Path, size: str) -> list[Section]:
    """Analyze and plot every planned study; PNGs are written next to the report."""
    sections = []
    with Store(out) as store:
        for plan in plans:
            rows = rows_for(plan, store)
            try:
                finding = plan.study.analyze(rows)
            except Exception as err:  # a bug in one verdict must not hide the other studies
                reason = f"could not compute the verdict: {type(err).__name__}: {err}"
                finding = Finding(stats.INCONCLUSIVE, reason)
            png = render_png(plan, rows)
            atomic.write_bytes(out / f"{plan.study.name}.png", png)
            sections.append(
                Section(
                    plan.study.name,
                    plan.study.claim,
                    plan.study.anchor,
                    plan.data,
                    plan.note,
                    finding,
                    png_base64(png),
                    reproduce(plan, size, out),
                    _counts(rows),
                )
            )
    return sections


def recommending(sections: list[Section]) -> Section | None:
    """The study whose recommended depth the summary shows (the depth study first); None when no study
    gives a depth that stands out of the noise."""
    preferred = sorted(sections, key=lambda s: s.name != "depth")
    return next((s for s in preferred if s.finding.recommended_depth is not None), None)


def write_csv(plans: list[Plan], out: Path) -> Path:
    """``results.csv``: one row per run, tags and final metrics as columns."""
    records = []
    with Store(out) as store:
        for plan in plans:
            for row in rows_for(plan, store):
                flat = {
                    "study": plan.study.name,
                    "data": plan.data,
                    "hash": row["hash"],
                    "status": row["status"],
                }
                flat |= {k: v for k, v in row.items() if k not in _NON_TAGS}
                flat |= {
                    k: v for k, v in row["metrics"].items() if isinstance(v, (int, float, str)) or v is None
                }
                flat |= {"fit_seconds": row["fit_seconds"], "run_seconds": row["run_seconds"]}
                records.append(flat)
    columns = list(dict.fromkeys(k for r in records for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return atomic.write_text(out / "results.csv", buffer.getvalue())


_NON_TAGS = {"hash", "status", "metrics", "diagnostics", "history", "error", "fit_seconds", "run_seconds"}


def describe_environment(env: dict[str, Any]) -> str:
    """One line about where the runs ran, from a stored run's environment."""
    if not env:
        return "no runs stored yet"
    device = env.get("cuda") or f"CPU ({env.get('cpus')} cores, {env.get('threads')} thread(s) per run)"
    return (
        f"depthlab {env.get('depthlab')}, torch {env.get('torch')}, Python {env.get('python')}, "
        f"{env.get('platform')}, {device}"
    )


def write_report(plans: list[Plan], out: str | Path, *, size: str = "quick", data: str | None = None) -> Path:
    """Write report.html, one PNG per study and results.csv into ``out``; returns the HTML path."""
    out = Path(out)
    atomic.remove_stale_temps(out)  # left by a writer killed mid-write
    PALETTE.reset()  # one colour per variant across every panel of this report
    sections = build_sections(plans, out, size)
    with Store(out) as store:
        machine = describe_environment(store.latest_environment())
    html = render_page(
        REPORT_TEMPLATE,
        sections=sections,
        groups=[(o, [s for s in sections if s.finding.outcome == o]) for o in stats.OUTCOMES],
        css=_CSS,
        recommends=recommending(sections),
        data=data or "each study's default",
        size=size,
        command=command(None, size, data, out, device_of(plans), own_of(plans)),
        fmt=_fmt,
        machine=machine,
    )
    write_csv(plans, out)
    summary.write([summary.record(s.name, s.finding) for s in sections], out)
    return atomic.write_text(out / "report.html", html)


_CSS = {stats.HELD: "held", stats.NOT_HELD: "failed", stats.INCONCLUSIVE: "open"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3g}"
    return str(value)
