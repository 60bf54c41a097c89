"""The advice: what the advisor found (``Candidate`` per depth, ``Advice``) and how it reads: the terminal
table and the one-line answer, advice.json and advice.html, and the same in a notebook (an ``Advice`` shows
itself: ``_repr_html_``, the answer, the table and the figure).

advice.json and advice.html hold the answer, the table, accuracy against depth and accuracy against latency.
The page is depthlab.page's self-contained shell (plots inline as base64 PNG, a Content-Security-Policy that
allows nothing else, every string escaped by jinja2 autoescape). Plots are matplotlib ``Figure`` objects,
never pyplot's global state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from depthlab import atomic, stats
from depthlab.advise.baselines import VERDICTS, Baseline, as_good
from depthlab.advise.config import ACCURACY, AdviseConfig, Metric
from depthlab.advise.curves import Prediction
from depthlab.advise.plan import Plan
from depthlab.json_safe import json_safe
from depthlab.page import figure_png, html_table, png_base64, render_page

# --- what was found ----------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One depth: its latency, probe, the last prediction of its curve, and (finalists) its seeds' runs."""

    depth: int
    status: str = "pruned"
    latency_ms: float = math.nan
    latency_form: str = "train"
    probe: dict[str, Any] | None = None
    prediction: Prediction | None = None
    rung_steps: int | None = None
    pruned_at_step: int | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    measured: stats.Interval | None = None
    predicted: Prediction | None = None  # the prediction widened by the seed spread
    variant: str = ""  # the remedy the probes chose ("": as the user gave it)
    variant_options: dict[str, Any] = field(default_factory=dict)
    variant_why: str = ""
    rung_run: dict[str, Any] | None = None  # the run its latest rung read
    pruned: dict[str, Any] | None = None  # what cut it, as it stood then (``plan.cut_reason``)

    def scores(self, key: str = "score") -> list[float]:
        return [r[key] for r in self.runs if r.get(key) is not None and r["status"] == "ok"]

    def accuracy(self) -> tuple[float, float, float, str] | None:
        """(mean, low, high, source) of the validation score: measured where trained, else predicted."""
        if self.measured is not None:
            return self.measured.estimate, self.measured.low, self.measured.high, "measured"
        if self.predicted is not None:
            return self.predicted.mean, self.predicted.low, self.predicted.high, "predicted"
        return None

    def to_dict(self, metric: Metric = ACCURACY) -> dict[str, Any]:
        """The candidate in the metric's own units (``accuracy``, or ``rmse`` and ``r2`` for a regression)."""
        converged = [r.get("converged") for r in self.runs]
        test = [metric.shown(s) for s in self.scores("test_score")]
        shown = None if (acc := self.accuracy()) is None else (*metric.shown_interval(*acc[:3]), acc[3])
        per_seed = "val_acc_per_seed" if metric is ACCURACY else f"val_{metric.name}_per_seed"
        return {
            "depth": self.depth,
            "status": self.status,
            metric.name: None
            if shown is None
            else dict(zip(("mean", "low", "high", "source"), shown, strict=True)),
            **({"r2": self.mean_r2()} if metric.name == "rmse" else {}),
            "predicted": None if self.predicted is None else self.predicted.to_dict(),
            "measured": None if self.measured is None else self.measured.to_dict(),
            f"test_{metric.name}": float(np.mean(test)) if test else None,
            "latency_ms": self.latency_ms,
            "latency_form": self.latency_form,
            "pruned_at_step": self.pruned_at_step,
            "pruned": self.pruned_dict(metric),
            "seeds": len(self.runs),
            "converged": [sum(bool(c) for c in converged), len(converged)],
            per_seed: [metric.shown(s) for s in self.scores()],
            "probe": self.probe,
            "variant": self.variant_dict(),
        }

    def mean_r2(self) -> float | None:
        """The validation R² over the seeds (a regression's runs), None without one."""
        r2 = [r["val_r2"] for r in self.runs if r.get("val_r2") is not None and r["status"] == "ok"]
        return float(np.mean(r2)) if r2 else None

    def pruned_dict(self, metric: Metric) -> dict[str, Any] | None:
        """What cut the depth, as it stood then, in the metric's units (None: not pruned)."""
        if self.pruned is None:
            return None
        p = self.pruned["prediction"]
        shown = dict(
            zip(("mean", "low", "high"), metric.shown_interval(p["mean"], p["low"], p["high"]), strict=True)
        )
        against = {k: v if k == "depth" else metric.shown(v) for k, v in self.pruned["against"].items()}
        return {
            "at_step": self.pruned_at_step,
            "prediction": shown | {"at": p["at"], "family": p["family"]},
            "rule": self.pruned["rule"],
            "against": against,
            "kept": self.pruned["kept"],
            "why": pruned_text(self, metric),
        }

    def variant_dict(self) -> dict[str, Any]:
        """Which variant the depth got (``as given``, or the remedy its probe chose), and why."""
        return {"name": self.variant or "as given", "options": self.variant_options, "why": self.variant_why}


@dataclass
class Advice:
    """The answer and everything behind it; ``to_dict`` is the advice.json contract."""

    config: AdviseConfig
    candidates: list[Candidate]
    plan: Plan
    steps_used: int
    steps_grid: int
    resumed: int
    one_se: stats.OneSE | None
    clause: stats.Clause | None
    band: tuple[int, int] | None
    metric: Metric = ACCURACY
    baselines: list[Baseline] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # what was done to the data: lines and Dataset.meta

    @property
    def baseline_verdict(self) -> str | None:
        """The first line of the advice when a baseline is as good as the recommended depth, else None."""
        chosen = self.recommended
        if chosen is None or chosen.measured is None:
            return None
        good = [b for b in self.baselines if as_good(b, chosen.measured.low)]
        return VERDICTS[good[0].name] if good else None

    @property
    def recommended(self) -> Candidate | None:
        return next((c for c in self.candidates if c.status == "chosen"), None)

    def to_dict(self) -> dict[str, Any]:
        chosen, m = self.recommended, self.metric
        picked = chosen.to_dict(m) if chosen is not None else {}
        return {
            "recommended_depth": chosen.depth if chosen else None,
            "interval": None
            if self.band is None
            else {
                "low": self.band[0],
                "high": self.band[1],
                "rule": "finalist depths within one SE of the best",
            },
            "metric": m.name,
            m.name: picked.get(m.name),
            f"test_{m.name}": picked.get(f"test_{m.name}"),
            **({"r2": picked.get("r2")} if m.name == "rmse" else {}),
            "one_se": None if self.one_se is None else self.one_se.to_dict(),
            "clause": None if self.clause is None else self.clause.to_dict(),
            "candidates": [cand.to_dict(m) for cand in self.candidates],
            "steps_used": self.steps_used,
            "steps_grid": self.steps_grid,
            "steps_fraction": self.steps_used / self.steps_grid if self.steps_grid else None,
            "steps_per_run": self.plan.full_steps,
            "rungs": self.plan.rungs,
            "resumed_pieces": self.resumed,
            "baselines": [b.to_dict(m) for b in self.baselines],
            "baseline_verdict": self.baseline_verdict,
            "data": self.data,
            "question": self.question(),
        }

    def _repr_html_(self) -> str:
        return html(self)

    def question(self) -> dict[str, Any]:
        """Everything the advice was asked."""
        c = self.config
        return {
            "data": c.data,
            "model": c.model,
            "depths": list(c.depths),
            "latency_ms": c.latency_ms,
            "batch": c.batch,
            "budget": c.budget,
            "seeds": c.seeds,
            "model_options": c.model_options,
            "data_options": c.data_options,
            "train": c.train,
        }


# --- the text: table and answer -----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def _number(value: float | None, metric: Metric) -> str:
    """A value in the metric's own units: accuracy as a percentage, an RMSE with three significant digits."""
    if value is None or not math.isfinite(value):
        return "-"
    return _pct(value) if metric is ACCURACY else f"{value + 0.0:.3g}"  # + 0.0: no "-0" for a clipped end


def _interval(mean: float, low: float, high: float, metric: Metric = ACCURACY) -> str:
    """A score interval in the metric's own units (an RMSE's ends swap: a higher score is a lower RMSE)."""
    shown = metric.shown_interval(mean, low, high)
    return f"{_number(shown[0], metric)} [{_number(shown[1], metric)}, {_number(shown[2], metric)}]"


def pruned_text(c: Candidate, metric: Metric) -> str:
    """Why a pruned depth was cut, with the prediction that cut it when it was cut ('' when not pruned)."""
    if c.pruned is None:
        return ""
    p, rule, against = c.pruned["prediction"], c.pruned["rule"], c.pruned["against"]
    if rule == "not a finalist":
        return (
            f"one full-budget seed {_number(metric.shown(p['mean']), metric)}; finalists {c.pruned['kept']} "
            f"(lowest: depth {against['depth']}, {_number(metric.shown(against['mean']), metric)})"
        )
    then = f"predicted {_interval(p['mean'], p['low'], p['high'], metric)} at {p['at']} steps"
    if rule == "ruled out":
        worst = _number(metric.shown(against["low"]), metric)
        return f"{then}; ruled out: its best end is worse than depth {against['depth']}'s worst end {worst}"
    best = _number(metric.shown(against["high"]), metric)
    return (
        f"{then}; the rung keeps {len(c.pruned['kept'])} and its best end is worse than theirs "
        f"(depth {against['depth']}: {best})"
    )


def _row(c: Candidate, metric: Metric) -> list[str]:
    p, m = c.predicted, c.measured
    predicted = "-" if p is None else _interval(p.mean, p.low, p.high, metric)
    measured = "-" if m is None else _interval(m.estimate, m.low, m.high, metric)
    status = c.status + (f" at {c.pruned_at_step}" if c.pruned_at_step else "")
    form = " (deploy)" if c.latency_form == "deploy" else ""
    row = [str(c.depth), c.variant or "as given", predicted, measured, f"{c.latency_ms:.3g}{form}", status]
    return row + [pruned_text(c, metric) or c.variant_why]


def _baseline_row(b: Baseline, metric: Metric) -> list[str]:
    """A reference model's row: name, measured interval over the seeds, ``baseline`` (or why not run)."""
    iv = b.measured
    measured = _interval(iv.estimate, iv.low, iv.high, metric) if b.runs else "-"
    return [b.name, "-", "-", measured, "-", b.note or "baseline", ""]


def table_rows(advice: Advice) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows: depth, variant, predicted and measured validation score (accuracy %, or
    RMSE; 95% interval), latency, status, and why (a pruned depth: the prediction that cut it, at the time;
    a remedied one: why its variant); then the baselines."""
    label = advice.metric.label
    head = [
        "depth",
        "variant",
        f"predicted val {label}",
        f"measured val {label}",
        f"latency ms (batch {advice.config.batch})",
        "status",
        "why",
    ]
    rows = [_row(c, advice.metric) for c in advice.candidates]
    return head, rows + [_baseline_row(b, advice.metric) for b in advice.baselines]


def table(advice: Advice) -> str:
    """The table as aligned text columns."""
    head, rows = table_rows(advice)
    rows = [head, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def html(advice: Advice) -> str:
    """The advice in a notebook: the answer, the table and the figure."""
    head, rows = table_rows(advice)
    figure = f'<img src="data:image/png;base64,{png_base64(render_png(advice))}">'
    return f"<pre>{escape(answer(advice))}</pre>{html_table(head, rows)}{figure}"


def _score_line(advice: Advice, chosen: Candidate) -> str:
    """The chosen depth's validation score over seeds, its test score and latency (R² beside an RMSE)."""
    metric, d = advice.metric, chosen.to_dict(advice.metric)
    mean, low, high, _ = chosen.accuracy()
    test = d[f"test_{metric.name}"]
    if metric is ACCURACY:
        return (
            f"  validation accuracy {_interval(mean, low, high)} % over {d['seeds']} seeds (95% t-interval); "
            f"test accuracy {_pct(test)} %; latency {chosen.latency_ms:.3g} ms"
        )
    if metric.name == "bpc":
        return (
            f"  validation bits/char {_interval(mean, low, high, metric)} over {d['seeds']} seeds (95% "
            f"t-interval); test bits/char {_number(test, metric)}; latency {chosen.latency_ms:.3g} ms"
        )
    r2 = "-" if d["r2"] is None else f"{d['r2']:.3f}"
    return (
        f"  validation RMSE {_interval(mean, low, high, metric)} (target units) over {d['seeds']} seeds (95% "
        f"t-interval), R² {r2}; test RMSE {_number(test, metric)}; latency {chosen.latency_ms:.3g} ms"
    )


def answer(advice: Advice) -> str:
    """``recommended depth: D (interval lo-hi)`` and, beside it, its score and the grid comparison."""
    chosen, metric = advice.recommended, advice.metric
    if chosen is None:
        return "recommended depth: none (no finalist had two finished seeds)"
    lo, hi = advice.band
    one_se = advice.one_se
    best = _number(metric.shown(one_se.best_mean), metric)
    se = _number(one_se.best_se * metric.scale, metric)
    unit = " %" if metric is ACCURACY else ""
    verdict = [advice.baseline_verdict] if advice.baseline_verdict else []
    with_variant = f" with {chosen.variant}" if chosen.variant else ""
    lines = [
        *verdict,
        f"recommended depth: {chosen.depth}{with_variant} (interval {lo}-{hi})",
        _score_line(advice, chosen),
        f"  rule: the shallowest finalist within one SE of the best (depth {one_se.best}, "
        f"{best} ± {se}{unit})",
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
{% if data %}<h2>What was done to the data</h2>
<pre>{{ data }}</pre>
{% endif -%}
<h2>Candidates</h2>
<pre>{{ table }}</pre>
<p>Predicted: the depth's validation curve extrapolated to {{ steps }} steps (95% interval, widened by the
seed spread); measured: the mean over seeds of runs trained to a plateau (95% t-interval).</p>
<h2>Accuracy against depth, and against latency</h2>
<img alt="validation score against depth and against latency" src="data:image/png;base64,{{ png }}">
{% endblock %}
"""


def _points(candidates: list[Candidate]) -> list[tuple[Candidate, tuple[float, float, float, str]]]:
    return [(c, acc) for c in candidates if (acc := c.accuracy()) is not None and math.isfinite(acc[0])]


def _plotted(metric: Metric, *scores: float) -> list[float]:
    """Scores as plotted: accuracy in %, an RMSE in the target's units."""
    return [100 * v if metric is ACCURACY else metric.shown(v) for v in scores]


def _panel(ax, points, x_of, xlabel: str, metric: Metric) -> None:
    for source in ("measured", "predicted"):
        chosen = [(c, a) for c, a in points if a[3] == source]
        if not chosen:
            continue
        xs = [x_of(c) for c, _ in chosen]
        shown = [sorted(_plotted(metric, *a[1:3])) for _, a in chosen]
        ys = [_plotted(metric, a[0])[0] for _, a in chosen]
        err = [
            [y - s[0] for y, s in zip(ys, shown, strict=True)],
            [s[1] - y for y, s in zip(ys, shown, strict=True)],
        ]
        ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, color=COLORS[source], label=source)
    for c, _ in points:
        ax.scatter([x_of(c)] * len(c.scores()), _plotted(metric, *c.scores()), s=8, alpha=0.3, color="k")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric.described)


def _pareto(ax, points, metric: Metric) -> None:
    """The score-latency front: no other depth is both faster and better."""
    ordered = sorted(points, key=lambda p: p[0].latency_ms)
    front, best = [], -math.inf
    for c, acc in ordered:
        if acc[0] > best:
            front.append((c.latency_ms, _plotted(metric, acc[0])[0]))
            best = acc[0]
    if front:
        ax.plot(*zip(*front, strict=True), "-", color="#999", zorder=0, label="Pareto front")


def render_png(advice: Advice) -> bytes:
    from matplotlib.figure import Figure

    points = _points(advice.candidates)
    figure = Figure(figsize=(11, 3.8), dpi=90, layout="constrained")
    by_depth, by_latency = figure.subplots(1, 2)
    batch, metric = advice.config.batch, advice.metric
    _panel(by_depth, points, lambda c: c.depth, "depth", metric)
    _panel(by_latency, points, lambda c: c.latency_ms, f"latency (ms, batch {batch})", metric)
    _pareto(by_latency, points, metric)
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
        data="\n".join(advice.data.get("lines", [])),
        table=table(advice),
        steps=advice.plan.full_steps,
        png=png_base64(render_png(advice)),
    )
    return json_path, atomic.write_text(out / "advice.html", html)
