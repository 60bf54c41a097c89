"""Representation study: layers build a hierarchy of features, read out by linear probes per layer (Alain &
Bengio 2016, arXiv 1610.01644).

A linear (ridge) probe is fitted on the frozen output of the input, the stem and every block, for the trained
net and for the same net at init; the evidence is probe test accuracy against layer index.
"""

from __future__ import annotations

from depthlab.study.presets.base import Finding, Row, Study, finished, mean, pct, undecided, where
from depthlab.study.spec import expand

SIZES = {
    "quick": {"models": {"mlp": {"model.name": "mlp", "model.depth": 8}}, "seeds": [0, 1], "steps": 600},
    "full": {
        "models": {
            "mlp": {"model.name": "mlp", "model.depth": 12},
            "cnn1d": {"model.name": "cnn1d", "model.depth": 8},
        },
        "seeds": [0, 1, 2],
        "steps": 4000,
    },
}


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "representation",
        "model": {"width": 64, "norm": "batch"},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128},
        "diagnostics": ["probes"],
    }
    return expand(base, {"model": s["models"], "seed": s["seeds"]})


def _curve(rows: list[Row], key: str) -> list[float]:
    curves = [(r.get("diagnostics") or {}).get(key) or [] for r in finished(rows)]
    curves = [c for c in curves if c]
    if not curves:
        return []
    return [mean(c[i] for c in curves) for i in range(min(map(len, curves)))]


def rank_correlation(values: list[float]) -> float:
    """Spearman correlation of ``values`` with their index (1: strictly rising)."""
    n = len(values)
    if n < 3:
        return 0.0
    order = sorted(range(n), key=values.__getitem__)
    ranks = [0] * n
    for rank, i in enumerate(order):
        ranks[i] = rank
    return 1 - 6 * sum((r - i) ** 2 for i, r in enumerate(ranks)) / (n * (n * n - 1))


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 1)) is not None:
        return pending
    parts, held = [], True
    for model in dict.fromkeys(r["model"] for r in rows):
        trained = _curve(where(rows, model=model), "probes")[
            1:
        ]  # from the stem on (index 0 is the raw input)
        initial = _curve(where(rows, model=model), "probes_init")[1:]
        rise, rho = trained[-1] - trained[0], rank_correlation(trained)
        held &= rise > 0.05 and rho > 0.5
        parts.append(
            f"{model}: trained probes rise from {pct(trained[0])} (stem) to {pct(trained[-1])} (last block), "
            f"rank correlation with depth {rho:.2f}; at init {pct(initial[0])} → {pct(initial[-1])}"
        )
    return Finding(held, "; ".join(parts))


def plot(rows: list[Row], figure) -> None:
    axes = figure.subplots(1, 2)
    for ax, key, title in ((axes[0], "probes", "trained"), (axes[1], "probes_init", "at init")):
        for model in dict.fromkeys(r["model"] for r in rows):
            curve = _curve(where(rows, model=model), key)
            ax.plot(range(len(curve)), curve, marker="o", label=model)
        ax.set(
            title=f"linear probe test accuracy per layer ({title})",
            xlabel="layer (0 = raw input)",
            ylabel="probe accuracy",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


STUDY = Study(
    name="representation",
    claim=(
        "Layers build a hierarchy: what a linear read-out can get from a layer rises with the layer's depth "
        "in a trained net, and not at random init."
    ),
    anchor=(
        "Alain & Bengio 2016 (arXiv 1610.01644): on Inception v3 and ResNet-50 'the linear separability of "
        "features increase[s] monotonically along the depth of the model'. MNIST-1D (Greydanus 2020): "
        "logistic regression on the raw input 32%, MLP 68%, CNN 94% test accuracy."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
