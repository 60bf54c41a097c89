"""Depth study: capacity grows with depth, returns diminish, and past a point depth hurts unless the net is
built to train deep (BatchNorm, residual connections). Recommends a depth for the data set.

MLPs over a depth sweep in three variants (plain, plain+BN, residual+BN); the evidence is training and
validation accuracy against depth. The recommended depth is the shallowest depth whose mean validation
accuracy is within one point of the best (the cheapest net that is as good as any).
"""

from __future__ import annotations

from depthlab.study.presets.base import Finding, Row, Study, mean_by, pct, undecided, where
from depthlab.study.presets.plotting import lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"depths": [1, 2, 3, 4, 8, 16], "seeds": [0, 1], "steps": 400, "width": 64},
    "full": {
        "depths": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
        "seeds": [0, 1, 2],
        "steps": 4000,
        "width": 128,
    },
}
VARIANTS = {
    "plain": {"model.norm": "none", "model.residual": False, "model.init": "he_normal"},
    "plain+BN": {"model.norm": "batch", "model.residual": False},
    "residual+BN": {"model.norm": "batch", "model.residual": True},
}
TOLERANCE = 0.01  # a depth is "as good as the best" within one point of validation accuracy


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "depth",
        "model": {"name": "mlp", "width": s["width"]},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128},
    }
    return expand(base, {"variant": VARIANTS, "model.depth": s["depths"], "seed": s["seeds"]})


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    val = {v: mean_by(where(rows, variant=v), "depth", "val_acc") for v in VARIANTS}
    best_variant = max(val, key=lambda v: max(val[v].values(), default=0.0))
    curve = val[best_variant]
    best = max(curve.values())
    recommended = min(d for d, acc in curve.items() if acc >= best - TOLERANCE)
    deepest, shallowest = max(curve), min(curve)
    gain_first = curve[recommended] - curve[shallowest]
    plain = val["plain"]
    plain_peak = max(plain, key=plain.get)
    hurts = plain[max(plain)] < plain[plain_peak] - 0.02
    verdict = (
        f"best validation accuracy {pct(best)} ({best_variant}); depth {shallowest} → {recommended} gains "
        f"{pct(gain_first)}, deeper adds at most {pct(best - curve[recommended])}; plain nets peak at depth "
        f"{plain_peak} ({pct(plain[plain_peak])}) and reach {pct(plain[max(plain)])} at depth {max(plain)}"
        f"{' (depth hurts)' if hurts else ''}; residual+BN at depth {deepest}: "
        f"{pct(val['residual+BN'].get(deepest, float('nan')))}. Recommended depth: {recommended}"
    )
    held = gain_first > 0.02 and (best - curve[recommended]) <= TOLERANCE
    return Finding(held, verdict, {"val_acc": val}, recommended_depth=recommended)


def plot(rows: list[Row], figure) -> None:
    left, right = figure.subplots(1, 2)
    lines(left, rows, "depth", "train_acc", by="variant", logx=True)
    left.set_title("training accuracy vs depth")
    lines(right, rows, "depth", "val_acc", by="variant", logx=True)
    right.set_title("validation accuracy vs depth")


STUDY = Study(
    name="depth",
    claim=(
        "Adding layers adds capacity with diminishing returns; past some depth a plain net gets worse, "
        "while BatchNorm and residual connections let depth be used."
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
