"""The advice as the user reads it: the terminal table and the one-line answer, advice.json and advice.html.

advice.json and advice.html hold the answer, the table, accuracy against depth and accuracy against latency.

The page is depthlab.page's self-contained shell (plots inline as base64 PNG, a Content-Security-Policy that
allows nothing else, every string escaped by jinja2 autoescape). Plots are matplotlib ``Figure`` objects,
never pyplot's global state.
"""

from __future__ import annotations

import math
from pathlib import Path

from depthlab import atomic
from depthlab.advise.recommend import Advice, Candidate
from depthlab.json_safe import json_safe
from depthlab.page import figure_png, png_base64, render_page

# --- the text: table and answer -----------------------------------------------------------------------------


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


# --- advice.json and advice.html ----------------------------------------------------------------------------

COLORS = {"measured": "#1f77b4", "predicted": "#ff7f0e", "chosen": "#2ca02c"}

PAGE = r"""{% extends "page" %}
{% block title %}depthlab advice{% endblock %}
{% block width %}1100px{% endblock %}
{% block style %}
  pre { background: #f5f5f0; padding: 0.8em; overflow-x: auto; }
{%- endblock %}
{% block body -%}
<h1>depthlab advice: {{ question }}</h1>
<pre>{{ answer }}</pre>
<h2>Candidates</h2>
<pre>{{ table }}</pre>
<p>Predicted: the depth's validation curve extrapolated to {{ steps }} steps (95% interval, widened by the
seed spread); measured: the mean over seeds of runs trained to a plateau (95% t-interval).</p>
<h2>Accuracy against depth, and against latency</h2>
<img alt="validation accuracy against depth and against latency" src="data:image/png;base64,{{ png }}">
{% endblock %}
"""


def _points(candidates: list[Candidate]) -> list[tuple[Candidate, tuple[float, float, float, str]]]:
    return [(c, acc) for c in candidates if (acc := c.accuracy()) is not None and math.isfinite(acc[0])]


def _panel(ax, points, x_of, xlabel: str) -> None:
    for source in ("measured", "predicted"):
        chosen = [(c, a) for c, a in points if a[3] == source]
        if not chosen:
            continue
        xs = [x_of(c) for c, _ in chosen]
        ys = [100 * a[0] for _, a in chosen]
        err = [[100 * (a[0] - a[1]) for _, a in chosen], [100 * (a[2] - a[0]) for _, a in chosen]]
        ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, color=COLORS[source], label=source)
    for c, _ in points:
        ax.scatter([x_of(c)] * len(c.scores()), [100 * s for s in c.scores()], s=8, alpha=0.3, color="k")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation accuracy (%)")


def _pareto(ax, points) -> None:
    """The accuracy-latency front: no other depth is both faster and more accurate."""
    ordered = sorted(points, key=lambda p: p[0].latency_ms)
    front, best = [], -math.inf
    for c, acc in ordered:
        if acc[0] > best:
            front.append((c.latency_ms, 100 * acc[0]))
            best = acc[0]
    if front:
        ax.plot(*zip(*front, strict=True), "-", color="#999", zorder=0, label="Pareto front")


def render_png(advice: Advice) -> bytes:
    from matplotlib.figure import Figure

    points = _points(advice.candidates)
    figure = Figure(figsize=(11, 3.8), dpi=90, layout="constrained")
    by_depth, by_latency = figure.subplots(1, 2)
    _panel(by_depth, points, lambda c: c.depth, "depth")
    _panel(by_latency, points, lambda c: c.latency_ms, f"latency (ms, batch {advice.config.batch})")
    _pareto(by_latency, points)
    chosen = advice.recommended
    if chosen is not None and chosen.accuracy() is not None:
        for ax, x in ((by_depth, chosen.depth), (by_latency, chosen.latency_ms)):
            ax.axvline(x, color=COLORS["chosen"], linestyle="--", label=f"recommended (depth {chosen.depth})")
    if advice.config.latency_ms is not None:
        by_latency.axvline(advice.config.latency_ms, color="#a11", linestyle=":", label="latency budget")
    for ax in (by_depth, by_latency):
        ax.legend(fontsize=8)
    return figure_png(figure)


def write_outputs(advice: Advice, out: str | Path) -> tuple[Path, Path]:
    """Write ``advice.json`` and ``advice.html`` into ``out`` (atomically); returns both paths."""
    out = Path(out)
    c = advice.config
    json_path = atomic.write_json(out / "advice.json", json_safe(advice.to_dict()))
    html = render_page(
        PAGE,
        question=f"{c.model} on {c.data}",
        answer=answer(advice),
        table=table(advice),
        steps=advice.plan.full_steps,
        png=png_base64(render_png(advice)),
    )
    return json_path, atomic.write_text(out / "advice.html", html)
