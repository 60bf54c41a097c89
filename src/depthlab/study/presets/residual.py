"""Residual study: skip connections let depth train (the degradation problem, He et al. 2016, arXiv
1512.03385).

Plain and residual twins (same layers and parameters, BatchNorm in both) are trained for the same steps over a
depth sweep; the evidence is training accuracy against depth, plus the std of each block's response (their
Fig. 7) and block lesions (Veit et al. 2016, arXiv 1605.06431) on the deepest pair.
"""

from __future__ import annotations

from depthlab.study.presets.base import Finding, Row, Study, mean_by, pct, undecided, where
from depthlab.study.presets.plotting import lines
from depthlab.study.spec import expand

SIZES = {
    "quick": {"depths": [4, 8, 16, 32], "seeds": [0, 1], "steps": 400, "width": 64},
    "full": {"depths": [4, 8, 16, 32, 64, 128], "seeds": [0, 1, 2], "steps": 3000, "width": 128},
}
VARIANTS = {"plain+BN": {"model.residual": False}, "residual+BN": {"model.residual": True}}
# "Does not degrade": at the deepest depth the residual net keeps this fraction of its best training accuracy
# (deeper nets need more steps per unit of progress, so a short run may fall a little short) and beats the
# plain net by MARGIN.
KEEPS = 0.85
MARGIN = 0.10


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "residual",
        "model": {"name": "mlp", "width": s["width"], "norm": "batch"},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128},
        "diagnostics": ["response_std", "lesion"],
    }
    specs = expand(base, {"variant": VARIANTS, "model.depth": s["depths"], "seed": s["seeds"]})
    for spec in specs:  # the per-block measurements are drawn for seed 0 only
        spec["diagnostics"] = spec["diagnostics"] if spec["seed"] == 0 else []
    return specs


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    plain = mean_by(where(rows, variant="plain+BN"), "depth", "train_acc")
    resid = mean_by(where(rows, variant="residual+BN"), "depth", "train_acc")
    deepest, depths = max(plain), sorted(plain)
    plain_peak_depth = max(plain, key=plain.get)
    plain_falls = plain[deepest] < plain[plain_peak_depth] - 0.05 and deepest > plain_peak_depth
    kept = resid.get(deepest, 0.0) / max(resid.values())
    resid_keeps = kept >= KEEPS
    held = plain_falls and resid_keeps and resid.get(deepest, 0.0) > plain[deepest] + MARGIN
    verdict = (
        f"training accuracy at depth {deepest}: residual+BN {pct(resid.get(deepest, float('nan')))} "
        f"(best {pct(max(resid.values()))}), plain+BN {pct(plain[deepest])} (best "
        f"{pct(plain[plain_peak_depth])} "
        f"at depth {plain_peak_depth}); plain {'fell' if plain_falls else 'did not fall'} with depth, "
        f"residual kept {kept:.0%} of its best (needs ≥ {KEEPS:.0%})"
    )
    return Finding(
        held, verdict, {"plain": plain, "residual": resid, "depths": depths}, recommended_depth=None
    )


def plot(rows: list[Row], figure) -> None:
    left, middle, right = figure.subplots(1, 3)
    lines(left, rows, "depth", "train_acc", by="variant", logx=True)
    left.set_title("training accuracy vs depth")
    deepest = max(r["depth"] for r in rows)
    for variant in VARIANTS:
        for row in where(rows, variant=variant, depth=deepest, seed=0):
            stds = (row.get("diagnostics") or {}).get("response_std") or []
            middle.plot(range(1, len(stds) + 1), stds, label=variant)
            lesion = (row.get("diagnostics") or {}).get("lesion") or []
            right.plot(range(1, len(lesion) + 1), lesion, marker=".", label=variant)
    middle.set(title=f"block response std (depth {deepest})", xlabel="block", yscale="log")
    right.set(title=f"test acc with one block removed (depth {deepest})", xlabel="block removed")
    for ax in (middle, right):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)


STUDY = Study(
    name="residual",
    claim=(
        "Skip connections let depth train: a plain net's training accuracy degrades as layers are added, "
        "its residual twin's does not."
    ),
    anchor=(
        "He et al. 2016 (arXiv 1512.03385), CIFAR-10: plain nets 'exhibit higher training error when going "
        "deeper' (plain-56 worse than plain-20; plain-110 error > 60%); ResNet test error falls 8.75% → "
        "6.97% from 20 to 56 layers (Table 6)."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
