"""Rank-collapse study: pure self-attention loses rank with depth, doubly exponentially, and skip connections
keep the tokens apart (Dong, Cordonnier & Loukas 2021, arXiv 2103.03404).

Transformer encoder classifiers (``models.transformer``: bidirectional attention, mean-pooled, GPT-2's
init) in three variants of one block, paired by seed: **attention only** (no skip connection, no MLP),
**attention + skips**, and the **full block** (skips and MLP). Each run reads
``diagnose.rank.block_residuals`` on validation sequences at init and after a short equal training budget on
associative recall (``data.sequences``: 4 key-value pairs, then a key; chance 1/8): how far the tokens are
from rank one entering the first block and leaving each block (``‖X - token mean‖ / ‖X‖``; 0 is every token
the same vector). A reading in *decades lost* is log10 of the embedding's residual over the last block's.

Clauses: at init, attention only loses more than ``COLLAPSES.min_effect`` decades (measured: ~7, down to
float32's floor within a few blocks); at init and after training, attention only loses more decades than
attention + skips by more than ``SKIPS_KEEP.min_effect``. The full block is reported beside (Dong et al.: the
MLP slows the collapse too), with the validation accuracy each variant reached.

This preset is in the full suite; the quick suite runs it by name (``depthlab study rank_collapse``).
"""

from __future__ import annotations

import math

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    decide,
    finished,
    mean,
    metric,
    pct,
    per_seed,
    undecided,
    where,
)
from depthlab.study.presets.plotting import PALETTE, cell_interval, label_axes
from depthlab.study.spec import expand

SIZES = {
    "quick": {"depth": 6, "width": 32, "seeds": [0, 1, 2, 3, 4], "steps": 150},
    "full": {"depth": 12, "width": 64, "seeds": list(range(10)), "steps": 2000},
}
DATA = "recall"
ATTENTION_ONLY, SKIPS, FULL_BLOCK = "attention only", "attention + skips", "full block"
VARIANTS = {
    ATTENTION_ONLY: {"model.residual": False, "model.mlp": False},
    SKIPS: {"model.residual": True, "model.mlp": False},
    FULL_BLOCK: {"model.residual": True, "model.mlp": True},
}

COLLAPSES = stats.Comparison(
    "pure attention collapses toward rank one",
    "decades of the tokens' relative residual lost from the embedding to the last block, attention only, "
    "at init",
    1,
    3.0,
    scale=1.0,
    unit=" decades",
)
SKIPS_KEEP = stats.Comparison(
    "skip connections keep the tokens apart",
    "decades lost, attention only minus attention + skips, at init",
    1,
    2.0,
    scale=1.0,
    unit=" decades",
)
SKIPS_KEEP_TRAINED = stats.Comparison(
    "and after training",
    "decades lost, attention only minus attention + skips, after training",
    1,
    2.0,
    scale=1.0,
    unit=" decades",
)


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "rank_collapse",
        "model": {"name": "transformer", "depth": s["depth"], "width": s["width"], "heads": 4},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 64, "schedule": "cosine"},
        "diagnostics": ["rank"],
    }
    return expand(base, {"variant": VARIANTS, "seed": s["seeds"]})


def readings(row: Row, key: str = "rank") -> list[float]:
    """The run's relative residuals, entering the first block then leaving each (``rank_init``: at init)."""
    return [float(v) for v in (row.get("diagnostics") or {}).get(key) or []]


def decades_lost(row: Row, key: str = "rank") -> float:
    """log10 of the embedding's relative residual over the last block's (NaN when not measured)."""
    curve = readings(row, key)
    if len(curve) < 2 or curve[0] <= 0:
        return math.nan
    return math.log10(curve[0]) - math.log10(max(curve[-1], 1e-30))


def _lost(rows: list[Row], variant: str, key: str) -> dict:
    return per_seed(rows, lambda r: decades_lost(r, key), variant=variant)


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 2)) is not None:
        return pending
    lost = {(v, k): _lost(rows, v, k) for v in VARIANTS for k in ("rank_init", "rank")}
    judged = [
        COLLAPSES.judge(lost[(ATTENTION_ONLY, "rank_init")].values()),
        SKIPS_KEEP.judge_paired(lost[(ATTENTION_ONLY, "rank_init")], lost[(SKIPS, "rank_init")]),
        SKIPS_KEEP_TRAINED.judge_paired(lost[(ATTENTION_ONLY, "rank")], lost[(SKIPS, "rank")]),
    ]
    detail = "; ".join(
        f"{v}: {mean(lost[(v, 'rank_init')].values()):.2f} decades lost at init, "
        f"{mean(lost[(v, 'rank')].values()):.2f} after training, validation accuracy "
        f"{pct(mean(metric(r, 'val_acc') for r in finished(where(rows, variant=v))))} (chance 12.5%)"
        for v in VARIANTS
    )
    return decide(judged, rows, detail)


def plot(rows: list[Row], figure) -> None:
    axes = figure.subplots(1, 2, sharey=True)
    for ax, key, title in ((axes[0], "rank_init", "at init"), (axes[1], "rank", "after training")):
        for variant in VARIANTS:
            curves = [c for c in (readings(r, key) for r in finished(where(rows, variant=variant))) if c]
            if not curves:
                continue
            width, colour = min(map(len, curves)), PALETTE(variant)
            for curve in curves:  # each seed, faint
                ax.plot(range(width), [max(v, 1e-9) for v in curve[:width]], color=colour, alpha=0.2, lw=0.8)
            centre = [cell_interval([c[i] for c in curves]).estimate for i in range(width)]
            ax.plot(range(width), [max(v, 1e-9) for v in centre], marker="o", color=colour, label=variant)
        ax.set_yscale("log")
        label_axes(ax, "block (0: the embedding)", "‖X - token mean‖ / ‖X‖ (log)", title)
    axes[0].legend(fontsize=7)


STUDY = Study(
    name="rank_collapse",
    claim=(
        "Pure self-attention loses rank with depth (every token becomes the same vector); skip connections "
        "keep the tokens apart, at init and after training."
    ),
    anchor=(
        "Dong, Cordonnier & Loukas 2021 (arXiv 2103.03404): the residual of a pure self-attention stack's "
        "output from rank one shrinks doubly exponentially with depth; skip connections (and MLPs) "
        "prevent it."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
    default_data=DATA,
    data_kinds=("own",),
)
