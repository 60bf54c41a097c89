"""The advice as text: the terminal table and the one-line answer."""

from __future__ import annotations

import math

from depthlab.advise.recommend import Advice, Candidate


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def _interval(mean: float, low: float, high: float) -> str:
    return f"{_pct(mean)} [{_pct(low)}, {_pct(high)}]"


def _row(c: Candidate) -> list[str]:
    predicted = "-" if c.predicted is None else _interval(c.predicted.mean, c.predicted.low, c.predicted.high)
    measured = "-" if c.measured is None else _interval(c.measured.estimate, c.measured.low, c.measured.high)
    status = c.status + (f" at {c.pruned_at_step}" if c.pruned_at_step else "")
    form = " (deploy)" if c.latency_form == "deploy" else ""
    return [str(c.depth), predicted, measured, f"{c.latency_ms:.3g}{form}", status]


def table(advice: Advice) -> str:
    """Depth, predicted and measured validation accuracy (%, 95% interval), latency and status."""
    head = [
        "depth",
        "predicted val acc %",
        "measured val acc %",
        f"latency ms (batch {advice.config.batch})",
        "status",
    ]
    rows = [head, *(_row(c) for c in advice.candidates)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def answer(advice: Advice) -> str:
    """``recommended depth: D (interval lo-hi)`` and, beside it, its accuracy and the grid comparison."""
    chosen = advice.recommended
    if chosen is None:
        return "recommended depth: none (no finalist had two finished seeds)"
    lo, hi = advice.band
    d = chosen.to_dict()
    acc = d["accuracy"]
    lines = [
        f"recommended depth: {chosen.depth} (interval {lo}-{hi})",
        f"  validation accuracy {_interval(acc['mean'], acc['low'], acc['high'])} % over {d['seeds']} seeds "
        f"(95% t-interval); test accuracy {_pct(d['test_accuracy'])} %; latency {chosen.latency_ms:.3g} ms",
        f"  rule: the shallowest finalist within one SE of the best (depth {advice.one_se.best}, "
        f"{_pct(advice.one_se.best_mean)} ± {_pct(advice.one_se.best_se)} %)",
    ]
    if advice.clause is not None:
        lines.append(f"  {advice.clause.sentence()} (rule: {advice.clause.comparison.rule()})")
    lines.append(
        f"  compute: {advice.steps_used} training steps, {advice.steps_used / advice.steps_grid:.0%} of the "
        f"exhaustive grid's {advice.steps_grid} ({len(advice.config.depths)} depths x "
        f"{advice.config.seeds} seeds x {advice.plan.full_steps} steps)"
        + (f"; {advice.resumed} finished pieces reused from an earlier run" if advice.resumed else "")
    )
    return "\n".join(lines)
