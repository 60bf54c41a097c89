"""Overfitting study: on little data a deeper net overfits more, and dropout narrows the gap (Srivastava et
al. 2014, JMLR 15:1929).

MLPs over training-set size x depth x dropout; the evidence is the generalization gap as maps over size and
depth, with and without dropout. The gap is measured in cross-entropy (test loss minus training loss): once
every net fits a small training set perfectly, the accuracy gap saturates near 1 - test accuracy, while the
loss gap still shows how over-confident, i.e. how overfit, each net is. The accuracy gap is reported beside
it.
"""

from __future__ import annotations

from depthlab.study.presets.base import Finding, Row, Study, finished, mean, metric, pct, undecided, where
from depthlab.study.spec import expand

SIZES = {
    "quick": {
        "train_sizes": [250, 1000],
        "depths": [2, 4, 8],
        "dropouts": [0.0, 0.3],
        "seeds": [0, 1],
        "steps": 400,
    },
    "full": {
        "train_sizes": [100, 250, 500, 1000, 2000, 3600],
        "depths": [2, 3, 4, 6, 8, 12, 16],
        "dropouts": [0.0, 0.1, 0.3, 0.5],
        "seeds": [0, 1, 2],
        "steps": 4000,
    },
}


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "overfitting",
        "model": {"name": "mlp", "width": 128},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 2e-3, "batch_size": 128},
    }
    return expand(
        base,
        {
            "data.train_size": s["train_sizes"],
            "model.depth": s["depths"],
            "model.dropout": s["dropouts"],
            "seed": s["seeds"],
        },
    )


def gap(row: Row) -> float:
    """Test loss minus training loss (cross-entropy)."""
    return metric(row, "test_loss") - metric(row, "train_loss")


def accuracy_gap(row: Row) -> float:
    """Training accuracy minus test accuracy."""
    return metric(row, "train_acc") - metric(row, "test_acc")


def _gap(rows: list[Row], measure=gap, **tags) -> float:
    return mean(measure(r) for r in finished(where(rows, **tags)))


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 4)) is not None:
        return pending
    small = min(r["train_size"] for r in rows)
    shallow, deep = min(r["depth"] for r in rows), max(r["depth"] for r in rows)
    drop = max(r["dropout"] for r in rows)
    g = {
        (d, p): _gap(rows, train_size=small, depth=d, dropout=p) for d in (shallow, deep) for p in (0.0, drop)
    }
    grows = g[(deep, 0.0)] > g[(shallow, 0.0)] + 0.05
    narrows = g[(deep, drop)] < g[(deep, 0.0)] - 0.05
    acc = {(d, p): _gap(rows, accuracy_gap, train_size=small, depth=d, dropout=p) for d, p in g}
    test = {
        p: mean(metric(r, "test_acc") for r in finished(where(rows, train_size=small, depth=deep, dropout=p)))
        for p in (0.0, drop)
    }
    verdict = (
        f"with {small} training examples the loss gap is {g[(shallow, 0.0)]:.2f} at depth {shallow} and "
        f"{g[(deep, 0.0)]:.2f} at depth {deep} ({'grows' if grows else 'does not grow'} with depth; accuracy "
        f"gap {pct(acc[(shallow, 0.0)])} → {pct(acc[(deep, 0.0)])}); dropout {drop} "
        f"{'narrows' if narrows else 'does not narrow'} the depth-{deep} loss gap to {g[(deep, drop)]:.2f} "
        f"(accuracy gap {pct(acc[(deep, drop)])}, test accuracy {pct(test[0.0])} → {pct(test[drop])})"
    )
    return Finding(grows and narrows, verdict, {"gap": {f"{d}/{p}": v for (d, p), v in g.items()}})


def plot(rows: list[Row], figure) -> None:
    drops = sorted({r["dropout"] for r in rows})
    sizes, depths = sorted({r["train_size"] for r in rows}), sorted({r["depth"] for r in rows})
    axes = figure.subplots(1, len(drops))
    top = max((gap(r) for r in finished(rows) if gap(r) == gap(r)), default=1.0)
    for ax, p in zip(axes, drops, strict=True):
        table = [[_gap(rows, train_size=n, depth=d, dropout=p) for d in depths] for n in sizes]
        image = ax.imshow(table, cmap="magma", vmin=0, vmax=top, aspect="auto", origin="lower")
        for i, line in enumerate(table):
            for j, value in enumerate(line):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="cyan", fontsize=8)
        ax.set(
            xticks=range(len(depths)),
            xticklabels=depths,
            yticks=range(len(sizes)),
            yticklabels=sizes,
            xlabel="depth",
            ylabel="training examples",
            title=f"loss gap (test - train), dropout {p}",
        )
    figure.colorbar(image, ax=axes[-1])


STUDY = Study(
    name="overfitting",
    claim=(
        "On little data a deeper net overfits more (a larger gap between training and test accuracy), and "
        "dropout narrows that gap."
    ),
    anchor=(
        "Srivastava et al. 2014: dropout cuts MNIST test error 1.60% → 1.25% (3×1024 ReLU) and 1.06% with "
        "max-norm; on MNIST subsets of 100–500 examples it gives no improvement, the gain appears at "
        "intermediate sizes. He et al. 2016: ResNet-1202 (19.4M params) overfits CIFAR-10, 7.93% vs 6.43%."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
