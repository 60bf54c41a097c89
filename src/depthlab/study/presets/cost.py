"""Cost study: depth costs compute, and layers run one after another. At a fixed width, parameters and FLOPs
grow with depth by construction (shown, not judged); the claim that can fail is the sequential one: at
matched FLOPs, a deep-narrow net answers a single example more slowly than a shallow-wide one, because its
layers cannot run in parallel (Goyal et al. 2021, arXiv 2110.07641, keep depth 12 for this reason).

What it times: batch-1 inference of small MLPs on one CPU thread. At these sizes (20k multiply-adds) each
layer's fixed cost (an operator dispatch, a few microseconds) dominates its arithmetic, so the measured
slowdown is mostly that fixed cost paid once per layer, one layer after another: the sequential cost the
claim is about, on a CPU. It is not a measurement of arithmetic throughput.

Each repeat is one process that builds every shape and times them in interleaved rounds
(torch.utils.benchmark, one thread), so the deep/shallow ratio is paired against the machine's drifting
load. The n of the interval is the number of **repeats** of the same nets (no training, nothing random but
the timing), not seeds.

A timing clause carries its margin: the verdict reads a ratio of two latencies measured in the same
process, so a machine twice as slow or as fast scales both and leaves it unchanged, and the 25% minimum
effect keeps ordinary jitter (a few percent between rounds) from deciding it.
"""

from __future__ import annotations

import math
import statistics

from depthlab import stats
from depthlab.study.presets.base import Finding, Row, Study, data_spec, decide, finished, undecided
from depthlab.study.presets.plotting import PALETTE, label_axes
from depthlab.study.presets.width_vs_depth import width_for
from depthlab.study.spec import expand

SIZES = {
    "quick": {
        "depths": [2, 4, 8, 16],
        "repeats": [0, 1, 2, 3, 4],
        "budget": 20_000,
        "width": 64,
        "rounds": 5,
    },
    "full": {
        "depths": [2, 4, 8, 16, 32, 64],
        "repeats": list(range(10)),
        "budget": 100_000,
        "width": 128,
        "rounds": 9,
    },
}
FAMILIES = ("matched FLOPs", "fixed width")

DEEP_SLOWER = stats.Comparison(
    "deep-narrow is slower at matched FLOPs",
    "log2 of batch-1 latency, deepest over shallowest shape at matched FLOPs, per repeated timing",
    1,
    0.32,  # log2(1.25): 25% slower
    scale=1.0,
    unit=" doublings",
)


def shapes(size: str) -> dict[str, dict]:
    """Model overrides per shape label: widths solved for a fixed budget, and a fixed width."""
    s = SIZES[size]
    out = {}
    for depth in s["depths"]:
        out[f"matched FLOPs/{depth}"] = {"depth": depth, "width": width_for(s["budget"], depth)}
        out[f"fixed width/{depth}"] = {"depth": depth, "width": s["width"]}
    return out


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "cost",
        "task": "latency",
        "model": {"name": "mlp", "norm": "batch", "residual": True},
        "data": data_spec(data),
        "latency": {"shapes": shapes(size), "batch_size": 1, "rounds": s["rounds"]},
    }
    return expand(base, {"seed": s["repeats"]})  # a run's "seed" names its repeat: nothing is random here


def measured(row: Row, label: str, key: str) -> float:
    """A shape's measurement: the median latency over rounds (ms), or its FLOPs / params."""
    shape = ((row.get("diagnostics") or {}).get("latency") or {}).get(label) or {}
    value = shape.get(key)
    if value is None:
        return math.nan
    return statistics.median(value) if isinstance(value, list) else float(value)


def depths_of(rows: list[Row]) -> list[int]:
    labels = ((finished(rows) or [{}])[0].get("diagnostics") or {}).get("latency") or {}
    return sorted({int(label.split("/")[1]) for label in labels})


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 2)) is not None:
        return pending
    depths = depths_of(rows)
    low, high = f"matched FLOPs/{depths[0]}", f"matched FLOPs/{depths[-1]}"
    ratios = [
        math.log2(measured(r, high, "latency_ms") / measured(r, low, "latency_ms")) for r in finished(rows)
    ]
    clause = DEEP_SLOWER.judge(ratios)
    one = finished(rows)[0]
    grow = {
        family: measured(one, f"{family}/{depths[-1]}", "flops")
        / measured(one, f"{family}/{depths[0]}", "flops")
        for family in FAMILIES
    }
    median = {
        label: statistics.median(measured(r, label, "latency_ms") for r in finished(rows))
        for label in (low, high)
    }
    detail = (
        f"Depth {depths[0]} → {depths[-1]}: FLOPs ×{grow['fixed width']:.1f} at a fixed "
        f"width, ×{grow['matched FLOPs']:.2f} at matched FLOPs; batch-1 latency at matched FLOPs "
        f"{median[low]:.3f} ms → {median[high]:.3f} ms (medians, this CPU, one thread; mostly the fixed cost "
        f"each layer pays one after another at these sizes). n = {len(ratios)} repeated timings of the same "
        "nets, not seeds"
    )
    return decide([clause], rows, detail, numbers={"flops_growth": grow})


def plot(rows: list[Row], figure) -> None:
    left, right = figure.subplots(1, 2)
    depths = depths_of(rows)
    for family in FAMILIES:
        colour = PALETTE(family)
        flops = [measured(finished(rows)[0], f"{family}/{d}", "flops") for d in depths]
        left.plot(depths, flops, marker="o", color=colour, label=family)
        per_repeat = {d: [measured(r, f"{family}/{d}", "latency_ms") for r in finished(rows)] for d in depths}
        ivs = [stats.paired_t(per_repeat[d]) for d in depths]
        right.errorbar(
            depths,
            [iv.estimate for iv in ivs],
            yerr=[[iv.estimate - iv.low for iv in ivs], [iv.high - iv.estimate for iv in ivs]],
            marker="o",
            capsize=3,
            color=colour,
            label=family,
        )
        for d in depths:
            right.scatter([d] * len(per_repeat[d]), per_repeat[d], s=9, alpha=0.3, color=colour, linewidths=0)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.legend(fontsize=7)
    left.set_yscale("log")
    label_axes(left, "depth (weight layers)", "FLOPs per example", "FLOPs vs depth")
    label_axes(right, "depth (weight layers)", "batch-1 latency (ms, median of rounds)", "latency vs depth")


STUDY = Study(
    name="cost",
    claim=(
        "Depth costs compute: parameters, FLOPs and latency grow with the number of layers, and the layers "
        "run one after another, so at matched FLOPs a deep-narrow net is slower than a shallow-wide one."
    ),
    anchor=(
        "He et al. 2016: ResNet-20 0.27M parameters → ResNet-110 1.7M → ResNet-1202 19.4M (Table 6). Goyal "
        "et al. 2021 (arXiv 2110.07641): ParNet keeps depth 12 to run its streams in parallel."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
