"""Residual study: skip connections let depth train (the degradation problem, He et al. 2016, arXiv
1512.03385).

Plain and residual twins built from He et al.'s basic block (two weight layers with BN, the second ReLU after
the addition; ``models.basic_mlp``), with the same layers, parameters and init, are trained for an equal
budget with a cosine-decayed rate over a depth sweep, paired by seed. The rule, on training accuracy:

- plain degrades (``diagnose.degradation.judge``, the lab's one degradation rule): at the equal budget the
  plain net's training accuracy at the deepest depth is below its accuracy at the reference depth (stated in
  ``SIZES``) by more than ``DEGRADES.min_effect``, the reference-depth net has settled (it gained less than
  that over the last half of the budget) and the gap is not closing (a closing gap is a slower start);
- residual trains deep: at the deepest depth the residual twin beats the plain one by more than
  ``RESIDUAL_WINS.min_effect``.

The regime is where He et al.'s effect is defined, chosen on that principle (the depth preset's, whose runs
these are): 1,000 MNIST-1D training examples, which the depth-8 twins fit (100%) within half of the budget,
and a deepest depth of 32, where the plain twin's gap does not close (at 16 layers the plain twin catches up:
99.3-100% at the end of the same budget, a slower start, not degradation).

Also measured (reported beside the rule): the std of each layer's response after BN, before the ReLU or
the addition, at the same positions in both twins (their Fig. 7: smaller in ResNets), and block lesions
(Veit et al. 2016, arXiv 1605.06431) against the un-lesioned accuracy.
"""

from __future__ import annotations

import math

from depthlab import stats
from depthlab.diagnose import degradation
from depthlab.study.presets import depth as depth_preset
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    data_spec,
    decide,
    finished,
    geo_mean,
    judge_degradation,
    pct,
    per_seed,
    twin_readings,
    undecided,
    where,
)
from depthlab.study.presets.plotting import PALETTE, accuracy_lines, cell_interval, curves, label_axes
from depthlab.study.spec import expand

SIZES = {
    "quick": {  # the judged depths only, on the depth preset's runs
        "depths": [8, 32],
        "reference": 8,
        "other_seeds": [0, 1],
        **{key: depth_preset.SIZES["quick"][key] for key in depth_preset.SHARED},
    },
    "full": {
        "depths": [4, 8, 16, 32, 64, 128],
        "reference": 8,
        "seeds": list(range(10)),
        "other_seeds": list(range(5)),
        "steps": 8000,
        "batch_size": 128,
        "width": 128,
        "train_size": 1000,
    },
}
PLAIN, RESIDUAL = "plain+BN", "residual+BN"
VARIANTS = {PLAIN: {"model.residual": False}, RESIDUAL: {"model.residual": True}}

DEGRADES = stats.Comparison(
    "plain degrades",
    "plain training accuracy at an equal budget, the reference depth minus the deepest depth",
    direction=1,
    min_effect=0.02,
)
RESIDUAL_WINS = stats.Comparison(
    "residual trains deep",
    "training accuracy at the deepest depth, residual minus plain",
    direction=1,
    min_effect=0.02,
)
SMALLER_RESPONSES = stats.Comparison(  # reported, not part of the rule
    "residual responses are smaller",
    "log of the geometric-mean layer response std at the deepest depth, plain minus residual",
    direction=1,
    min_effect=0.0,
    unit="% (log ratio)",
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    # the depth preset's model and training: in the quick suite these runs are its runs at the reference
    # and the deepest depth, trained once
    base = {
        "study": "residual",
        "model": {**depth_preset.MODEL, "width": s["width"], "norm": "batch"},
        "data": data_spec(data, s["train_size"]),
        "train": {"steps": s["steps"], "batch_size": s["batch_size"], **depth_preset.TRAIN},
        "tags": {"reference": s["reference"]},
    }
    specs = expand(base, {"variant": VARIANTS, "model.depth": s["depths"], "seed": s["seeds"]})
    deepest = max(s["depths"])
    judged = (s["reference"], deepest)  # the compared cells get every seed; the others show the trend
    specs = [sp for sp in specs if sp["model"]["depth"] in judged or sp["seed"] in s["other_seeds"]]
    for spec in specs:  # responses and lesions: at the deepest depth, every seed
        spec["diagnostics"] = depth_preset.MEASURED_DEEPEST if spec["model"]["depth"] == deepest else []
    return specs


def response_level(row: Row) -> float:
    """Natural log of the geometric mean of a run's layer response stds (NaN when not measured)."""
    level = geo_mean((row.get("diagnostics") or {}).get("response_std") or [])
    return math.log(level) if level > 0 else math.nan


def plain_twins(rows: list[Row]) -> tuple[dict, dict]:
    """The tags of the two plain cells the degradation clause compares: the reference and the deepest."""
    deepest = max(r["depth"] for r in rows)
    reference = rows[0].get("reference", min(r["depth"] for r in rows))
    return {"variant": PLAIN, "depth": reference}, {"variant": PLAIN, "depth": deepest}


def clauses(rows: list[Row]) -> list[stats.Clause]:
    """The rule's two clauses (``DEGRADES``, ``RESIDUAL_WINS``) from per-seed training accuracy."""
    deepest = max(r["depth"] for r in rows)
    plain_deep = per_seed(rows, "train_acc", variant=PLAIN, depth=deepest)
    resid_deep = per_seed(rows, "train_acc", variant=RESIDUAL, depth=deepest)
    degrades = judge_degradation(DEGRADES, rows, *plain_twins(rows))
    return [degrades, RESIDUAL_WINS.judge_paired(resid_deep, plain_deep)]


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    deepest = max(r["depth"] for r in rows)
    reference = rows[0].get("reference", min(r["depth"] for r in rows))
    judged = clauses(rows)
    responses = SMALLER_RESPONSES.judge_paired(
        per_seed(rows, response_level, variant=PLAIN, depth=deepest),
        per_seed(rows, response_level, variant=RESIDUAL, depth=deepest),
    )
    acc = {
        v: {
            d: stats.paired_t(per_seed(rows, "train_acc", variant=v, depth=d).values()).estimate
            for d in sorted({r["depth"] for r in rows})
        }
        for v in VARIANTS
    }
    mid, end = degradation.gap_trend(twin_readings(rows, *plain_twins(rows)))
    detail = (
        f"training accuracy, plain {pct(acc[PLAIN][reference])} at depth {reference} → "
        f"{pct(acc[PLAIN][deepest])} at depth {deepest}; residual {pct(acc[RESIDUAL][deepest])} at depth "
        f"{deepest} (the plain gap {100 * mid:.1f} pts at mid-budget, {100 * end:.1f} at the end). "
        f"{judged[0].sentence()}; "
        f"{judged[1].sentence()}. Beside the rule: {responses.sentence()} (He et al. Fig. 7)"
    )
    finding = decide(judged, rows, detail)
    finding.numbers = {"train_acc": acc, "responses": responses.to_dict()}
    return finding


def plot(rows: list[Row], figure) -> None:
    axes = figure.subplots(1, 4)
    accuracy_lines(
        axes[0], rows, "depth", "train_acc", by="variant", logx=True, ylabel="training accuracy (%)"
    )
    axes[0].set_title("training accuracy at an equal budget", fontsize=10)
    deepest = max(r["depth"] for r in rows)
    curves(axes[1], rows, "variant", depth=deepest, title=f"learning curves (depth {deepest})")
    _per_layer(axes[2], rows, deepest, "response_std", lambda d: d.get("response_std") or [])
    axes[2].set_yscale("log")
    label_axes(
        axes[2],
        "layer (inside the blocks)",
        "response std (after BN)",
        f"layer responses, depth {deepest} (He Fig. 7)",
    )
    _per_layer(
        axes[3], rows, deepest, "lesion", lambda d: (d.get("lesion") or {}).get("blocks") or [], 100, (0, 100)
    )
    for variant in VARIANTS:
        base = [
            100 * ((r.get("diagnostics") or {}).get("lesion") or {}).get("baseline", math.nan)
            for r in finished(where(rows, variant=variant, depth=deepest))
        ]
        axes[3].axhline(
            cell_interval(base).estimate,
            color=PALETTE(variant),
            ls="--",
            lw=1,
            label=f"{variant}, no block removed",
        )
    label_axes(axes[3], "block removed", "test accuracy (%)", f"one block removed (depth {deepest})")
    axes[3].legend(fontsize=7)


def _per_layer(ax, rows: list[Row], depth: int, key: str, read, scale: float = 1.0, bounds=None) -> None:
    """Mean over seeds per layer index with 95% error bars, seeds faint, one colour per variant."""
    for variant in VARIANTS:
        runs = [read(r.get("diagnostics") or {}) for r in finished(where(rows, variant=variant, depth=depth))]
        runs = [run for run in runs if run]
        if not runs:
            continue
        colour = PALETTE(variant)
        width = min(map(len, runs))
        ivs = [cell_interval([scale * run[i] for run in runs], bounds) for i in range(width)]
        xs = range(1, width + 1)
        ax.errorbar(
            xs,
            [iv.estimate for iv in ivs],
            yerr=[
                [max(iv.estimate - iv.low, 0) if math.isfinite(iv.low) else 0 for iv in ivs],
                [max(iv.high - iv.estimate, 0) if math.isfinite(iv.high) else 0 for iv in ivs],
            ],
            marker="o",
            ms=3,
            capsize=2,
            color=colour,
            label=variant,
        )
        for run in runs:
            ax.scatter(xs, [scale * v for v in run[:width]], s=6, alpha=0.3, color=colour, linewidths=0)
    ax.legend(fontsize=7)


STUDY = Study(
    name="residual",
    claim=(
        "Skip connections let depth train: a plain net's training accuracy degrades as layers are added, "
        "its residual twin's does not."
    ),
    anchor=(
        "He et al. 2016 (arXiv 1512.03385), CIFAR-10: plain nets 'exhibit higher training error when going "
        "deeper' (plain-56 worse than plain-20; plain-110 error > 60%); ResNet test error falls 8.75% → "
        "6.97% from 20 to 56 layers (Table 6); layer responses (after BN) are smaller in ResNets (Fig. 7)."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
