"""Depth study: capacity grows with depth, returns diminish, and past a point a plain net fits worse, while
residual connections let depth be used (He et al. 2016, arXiv 1512.03385). Recommends a depth.

MLPs over a depth sweep in He et al.'s two variants, plain+BN and residual+BN (plain without BN joins in the
full size), sharing one init (He normal), so the comparison is of architectures, not of inits; each seed fixes
init and data order and is shared by every variant and depth (paired).

The regime is chosen so that degradation is defined (docs/statistics.md §4, ``diagnose.degradation``): every
run trains for the same budget with a cosine-decayed rate (no plateau stop: an equal budget), on a training
set small enough that the shallow nets settle within half of it (1,000 MNIST-1D examples: a depth-8 net fits
them by step 400 of the quick size's 800 steps of 256), and deep enough to reach the depths where a plain net
degrades (32: plain+BN nets of 16 layers still catch up with their 8-layer twins here, 99.3-100% at the end,
32-layer ones stay at 34-47%). The
published MNIST-1D figures (an MLP at 68% test accuracy) come from 4,000 training examples trained for much
longer: this suite's nets are judged on what they fit, and their test accuracy is that of a 1,000-example
training set.

The recommended depth comes from the one-standard-error rule on validation accuracy (Hastie, Tibshirani &
Friedman), with its test accuracy.
"""

from __future__ import annotations

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    at_convergence,
    data_spec,
    decide,
    judge_degradation,
    mean_by,
    pct,
    per_seed,
    seeds_of,
    tags_of,
    undecided,
    where,
)
from depthlab.study.presets.plotting import accuracy_lines, curves
from depthlab.study.spec import expand

SIZES = {
    "quick": {
        "depths": [1, 2, 4, 8, 16, 32],
        "seeds": [0, 1, 2, 3, 4],
        # 800 steps of 256 (205 epochs): every clause held as at 1,600 steps of 128, at 61% of the cost
        "steps": 800,
        "batch_size": 256,
        "width": 32,
        "train_size": 1000,
    },
    "full": {
        "depths": [1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64],
        "seeds": list(range(10)),
        "steps": 8000,
        "batch_size": 128,
        "width": 128,
        "train_size": 1000,
    },
}
PLAIN = "plain+BN"
VARIANTS = {
    PLAIN: {"model.norm": "batch", "model.residual": False},
    "residual+BN": {"model.norm": "batch", "model.residual": True},
}
FULL_EXTRA = {"plain": {"model.norm": "none", "model.residual": False}}  # not judged: shown in full
BUILT_DEEP = "residual+BN"
# He et al.'s basic blocks (``models.basic_mlp``: depth counts the Linear layers, so it is even above 1); with
# the residual preset's settings, so its runs are these runs (one training, two readings)
MODEL = {"name": "mlp_basic", "init": "he_normal"}
# the residual preset's measurements, taken at the deepest depth (one forward pass each)
MEASURED_DEEPEST = ["response_std", "lesion"]
# an equal budget for every run, the rate decayed to 0 (He et al. decay theirs), and the training split scored
# in eval mode along the way: the middle reading of the degradation rule
TRAIN = {"lr": 3e-3, "schedule": "cosine", "eval_train": True}
# what the residual preset shares of a size (its runs are these runs at two depths)
SHARED = ("seeds", "steps", "batch_size", "width", "train_size")

# The claim's clauses (accuracy fractions; printed in points).
GAIN = stats.Comparison(
    "depth adds capacity", "training accuracy, depth 2 minus depth 1 (residual+BN)", 1, 0.02
)
DIMINISHING = stats.Comparison(
    "returns diminish",
    "validation-accuracy gain of the last doubling minus that of the first (1 → 2), residual+BN",
    -1,
    0.01,
)
PLAIN_DEGRADES = stats.Comparison(
    "plain degrades past its peak",
    "training accuracy at an equal budget, plain+BN at its peak depth minus at the deepest depth",
    1,
    0.02,
)
KEEP_MARGIN = 0.02  # "within its best": no more than 2 points below it
RESIDUAL_KEEPS = stats.Comparison(
    "residual+BN keeps its best at the deepest depth",
    "training accuracy, residual+BN at the deepest depth minus at its best depth, plus 2 points",
    1,
    0.0,
)
# Not part of the claim: whether the recommended depth stands out of the noise at all.
ABOVE_SHALLOWEST = stats.Comparison(
    "recommended depth beats the shallowest",
    "validation accuracy, recommended minus shallowest depth",
    1,
    0.01,
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "depth",
        "model": {**MODEL, "width": s["width"]},
        "data": data_spec(data, s["train_size"]),
        "train": {"steps": s["steps"], "batch_size": s["batch_size"], **TRAIN},
    }
    base["tags"] = {"data": data, "train_size": base["data"].get("train_size"), "width": s["width"]}
    variants = VARIANTS if size == "quick" else {**VARIANTS, **FULL_EXTRA}
    specs = expand(base, {"variant": variants, "model.depth": s["depths"], "seed": s["seeds"]})
    deepest = max(s["depths"])
    for spec in specs:
        spec["diagnostics"] = MEASURED_DEEPEST if spec["model"]["depth"] == deepest else []
        shallow_net(spec)
    return specs


def shallow_net(spec: dict) -> None:
    """Depth 1 is logistic regression and depth 2 a stem and a head (no block to skip over) in every
    variant: one run each, shared by its hash."""
    depth = spec["model"]["depth"]
    if depth == 1:
        spec["model"] = {**spec["model"], "name": "mlp", "norm": "none", "residual": False}
    elif depth == 2:
        spec["model"] = {**spec["model"], "residual": False}


def _acc(rows: list[Row], metric: str, variant: str, depth: int) -> dict:
    return per_seed(rows, metric, variant=variant, depth=depth)


def gains(a: dict, b: dict) -> dict:
    """Per-seed a - b over the seeds in both."""
    return {seed: a[seed] - b[seed] for seed in a.keys() & b.keys()}


def clauses(rows: list[Row]) -> list[stats.Clause]:
    """The four judged clauses of the claim."""
    depths = tags_of(rows, "depth")
    first, second, deepest = depths[0], depths[1], depths[-1]
    gain = GAIN.judge_paired(
        _acc(rows, "train_acc", BUILT_DEEP, second), _acc(rows, "train_acc", BUILT_DEEP, first)
    )
    val = {d: _acc(rows, "val_acc", BUILT_DEEP, d) for d in depths}
    late, early = gains(val[deepest], val[depths[-2]]), gains(val[second], val[first])
    diminishing = DIMINISHING.judge_paired(late, early)
    plain = mean_by(where(rows, variant=PLAIN), "depth", "train_acc")
    peak = max(plain, key=plain.get)
    degrades = judge_degradation(
        PLAIN_DEGRADES, rows, {"variant": PLAIN, "depth": peak}, {"variant": PLAIN, "depth": deepest}
    )
    resid = mean_by(where(rows, variant=BUILT_DEEP), "depth", "train_acc")
    best = max(resid, key=resid.get)
    keeps_diffs = stats.paired_differences(
        _acc(rows, "train_acc", BUILT_DEEP, deepest), _acc(rows, "train_acc", BUILT_DEEP, best)
    )
    keeps = RESIDUAL_KEEPS.judge([d + KEEP_MARGIN for d in keeps_diffs])
    deep_resid = where(rows, variant=BUILT_DEEP, depth=deepest)
    return [gain, diminishing, degrades, at_convergence(keeps, deep_resid, doubtful=stats.NOT_HELD)]


def recommend(rows: list[Row]) -> tuple[int | None, str, dict]:
    """The one-SE depth on validation accuracy of the best variant, its test accuracy, and whether it stands
    out of the noise (beats the shallowest depth by a held clause)."""
    best_variant = max(
        tags_of(rows, "variant"),
        key=lambda v: max(mean_by(where(rows, variant=v), "depth", "val_acc").values(), default=0.0),
    )
    depths = tags_of(rows, "depth")
    choice = stats.one_se_rule({d: seeds_of(rows, "val_acc", variant=best_variant, depth=d) for d in depths})
    if choice is None:
        return None, "", {}
    test = stats.paired_t(seeds_of(rows, "test_acc", variant=best_variant, depth=choice.chosen))
    above = ABOVE_SHALLOWEST.judge_paired(
        _acc(rows, "val_acc", best_variant, choice.chosen), _acc(rows, "val_acc", best_variant, depths[0])
    )
    sentence = (
        f"depth {choice.chosen} ({best_variant}, the shallowest within one SE of the best validation "
        f"accuracy, {pct(choice.best_mean)} at depth {choice.best}); its test accuracy {pct(test.estimate)} "
        f"[{pct(test.low)}, {pct(test.high)}]"
    )
    numbers = {
        "one_se": choice.to_dict(),
        "variant": best_variant,
        "test_acc": test.to_dict(),
        "above_shallowest": above.to_dict(),
    }
    if above.outcome != stats.HELD:
        return None, f"no depth stands out of the noise ({above.sentence()}); {sentence}", numbers
    return choice.chosen, sentence, numbers


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    judged = clauses(rows)
    depth, sentence, numbers = recommend(rows)
    detail = f"Recommended: {sentence}. " if sentence else ""
    return decide(
        judged,
        rows,
        detail + published(rows),
        numbers=numbers,
        recommended_depth=depth,
        recommendation=sentence,
    )


def published(rows: list[Row]) -> str:
    """The published MNIST-1D figures beside what this grid's nets reach, and why they differ ("" on other
    data)."""
    if not str(rows[0].get("data", "")).startswith("mnist1d"):
        return ""
    test = {v: mean_by(where(rows, variant=v), "depth", "test_acc") for v in tags_of(rows, "variant")}
    best_variant, best_depth = max(
        ((v, d) for v in test for d in test[v]), key=lambda vd: test[vd[0]][vd[1]], default=(None, None)
    )
    if best_variant is None:
        return ""
    first = min(test[best_variant])
    train_size, width = rows[0].get("train_size") or 3600, rows[0].get("width")
    return (
        f"Published on MNIST-1D (Greydanus 2020, 4,000 training examples, trained to convergence): logistic "
        f"regression 32%, MLP 68%, CNN 94% test accuracy. Here depth {first} (logistic regression) reaches "
        f"{pct(test[best_variant][first])} and the best net ({best_variant}, depth {best_depth}) "
        f"{pct(test[best_variant][best_depth])}, trained on {train_size:,} examples for an equal "
        f"budget at width {width}: fewer training examples (the regime in which degradation can be "
        "judged) and a narrower net account for the gap (the full MNIST-1D training set at width 100 "
        "reaches about 64%)"
    )


def plot(rows: list[Row], figure) -> None:
    left, middle, right = figure.subplots(1, 3)
    for ax, metric, title in (
        (left, "train_acc", "training accuracy"),
        (middle, "val_acc", "validation accuracy"),
    ):
        accuracy_lines(
            ax,
            rows,
            "depth",
            metric,
            by="variant",
            logx=True,
            xlabel="depth (weight layers)",
            ylabel=f"{title} (%)",
        )
        ax.set_title(f"{title} at an equal budget vs depth", fontsize=10)
    deepest = max(tags_of(rows, "depth"))
    curves(right, rows, "variant", title=f"learning curves, depth {deepest}", depth=deepest)


STUDY = Study(
    name="depth",
    claim=(
        "Adding layers adds capacity with diminishing returns; past some depth a plain net gets worse, even "
        "with BatchNorm, while residual connections let depth be used."
    ),
    anchor=(
        "MNIST-1D (Greydanus 2020, arXiv 2011.14439): logistic regression 32%, MLP 68%, CNN 94% test "
        "accuracy. He et al. 2016: ResNet-1202 is worse than ResNet-110 on CIFAR-10 (7.93% vs 6.43% error); "
        "He et al. 2015: a 30-layer plain ImageNet net is less accurate than a 14-layer one (38.56 vs 33.82 "
        "top-1 error)."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
