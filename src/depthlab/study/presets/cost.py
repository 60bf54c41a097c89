"""Cost study: a deeper net costs more parameters, FLOPs, memory and (sequential) latency; which depths are on
the accuracy-vs-FLOPs Pareto front (FLOPs with torch's FlopCounterMode, latency as a median of timed runs)."""

from __future__ import annotations

import math

from depthlab.study.presets.base import Finding, Row, Study, finished, mean_by, metric, pct, undecided
from depthlab.study.presets.plotting import lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"depths": [2, 4, 8, 16, 32], "seeds": [0], "steps": 300},
    "full": {"depths": [2, 4, 8, 16, 32, 64, 128], "seeds": [0, 1, 2], "steps": 4000},
}


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "cost",
        "model": {"name": "mlp", "width": 64, "norm": "batch", "residual": True},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3},
        "diagnostics": ["cost"],
    }
    return expand(base, {"model.depth": s["depths"], "seed": s["seeds"]})


def cost(name: str):
    """A function reading one cost figure (e.g. ``flops``) from a row's measurement."""
    return lambda row: float(((row.get("diagnostics") or {}).get("cost") or {}).get(name, math.nan))


def pareto(points: dict[int, tuple[float, float]]) -> list[int]:
    """Depths not beaten by a cheaper-or-equal depth with higher accuracy: points are depth -> (flops,
    acc)."""
    front = []
    for depth, (_, acc) in sorted(points.items(), key=lambda kv: kv[1][0]):
        if not front or acc > points[front[-1]][1]:
            front.append(depth)
    return front


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 2)) is not None:
        return pending
    flops, latency = mean_by(rows, "depth", cost("flops")), mean_by(rows, "depth", cost("infer_step_time"))
    params, acc = mean_by(rows, "depth", "params"), mean_by(rows, "depth", "val_acc")
    lo, hi = min(flops), max(flops)
    front = pareto({d: (flops[d], acc[d]) for d in flops})
    verdict = (
        f"depth {lo} → {hi}: parameters ×{params[hi] / params[lo]:.1f}, FLOPs ×{flops[hi] / flops[lo]:.1f}, "
        f"latency ×{latency[hi] / latency[lo]:.1f} (batch 64); validation accuracy {pct(acc[lo])} → "
        f"{pct(acc[hi])}; Pareto front (accuracy vs FLOPs): depths {', '.join(map(str, front))}"
    )
    held = flops[hi] > flops[lo] and latency[hi] > latency[lo]
    return Finding(held, verdict, {"pareto": front})


def plot(rows: list[Row], figure) -> None:
    left, middle, right = figure.subplots(1, 3)
    for name in ("flops",):
        lines(left, rows, "depth", cost(name), logx=True, logy=True)
    left.set(title="FLOPs per sample vs depth", ylabel="FLOPs")
    lines(middle, rows, "depth", cost("infer_step_time"), logx=True)
    middle.set(title="inference latency, batch 64", ylabel="ms")
    done = finished(rows)
    xs, ys = [cost("flops")(r) for r in done], [metric(r, "val_acc") for r in done]
    right.scatter(xs, ys)
    for r, x, y in zip(done, xs, ys, strict=True):
        right.annotate(str(r["depth"]), (x, y), fontsize=8)
    right.set(title="validation accuracy vs FLOPs", xscale="log", xlabel="FLOPs", ylabel="val_acc")
    right.grid(alpha=0.3)


STUDY = Study(
    name="cost",
    claim=(
        "Depth costs compute: parameters, FLOPs and latency grow with the number of layers, and the layers "
        "run one after another."
    ),
    anchor=(
        "He et al. 2016: ResNet-20 0.27M parameters → ResNet-110 1.7M → ResNet-1202 19.4M (Table 6). Goyal "
        "et al. 2021 (arXiv 2110.07641): ParNet keeps depth 12 to run its streams in parallel."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
