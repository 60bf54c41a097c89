"""Width vs depth study: at a fixed parameter budget, how should a net be shaped? MLPs whose width is solved
so every depth has (about) the same number of parameters. Selection and reporting are separate: the depth is
chosen on validation accuracy by the one-standard-error rule (Hastie, Tibshirani & Friedman), and its gain
over the widest, shallowest net is judged on test accuracy, paired by seed."""

from __future__ import annotations

from depthlab import stats
from depthlab.study.presets.base import (
    Finding,
    Row,
    Study,
    data_spec,
    decide,
    mean_by,
    pct,
    per_seed,
    seeds_of,
    tags_of,
    undecided,
)
from depthlab.study.presets.plotting import accuracy_lines, lines
from depthlab.study.spec import expand

SIZES = {
    # quick stops at depth 9: depth 17 at this budget (width ~30) cost 40% of the preset's time and is never
    # the one-SE choice; the full grid keeps the deep end
    # 1,000 steps: the clause read +2.7 [+2.0, +3.3] points (at 1,500: +3.6 [+3.0, +4.1]), at 70% of the cost
    "quick": {"budget": 20_000, "depths": [2, 3, 5, 9], "seeds": [0, 1, 2, 3, 4], "steps": 1000},
    "full": {
        "budget": 100_000,
        "depths": [2, 3, 4, 6, 9, 13, 17, 25, 33],
        "seeds": list(range(10)),
        "steps": 20000,
    },
}
INPUTS, CLASSES = 40, 10  # the budget's widths are solved for MNIST-1D's shape; other data shift it a little

BEATS_WIDEST = stats.Comparison(
    "a deeper shape beats the widest",
    "test accuracy, the depth chosen on validation (one-SE rule) minus the shallowest depth",
    1,
    0.01,
)


def mlp_params(depth: int, width: int, inputs: int = INPUTS, classes: int = CLASSES) -> int:
    """Parameters of a depth-``depth`` MLP with BatchNorm: stem, depth - 2 hidden blocks, head."""
    if depth == 1:
        return inputs * classes + classes
    hidden = (depth - 2) * (width * width + 3 * width)
    return inputs * width + 3 * width + hidden + width * classes + classes


def width_for(budget: int, depth: int) -> int:
    """The width whose depth-``depth`` MLP has the parameter count closest to ``budget``."""
    return min(range(1, 4096), key=lambda w: abs(mlp_params(depth, w) - budget))


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    shapes = {d: {"model.depth": d, "model.width": width_for(s["budget"], d)} for d in s["depths"]}
    base = {
        "study": "width_vs_depth",
        "model": {"name": "mlp", "norm": "batch", "residual": True, "init": "he_normal"},
        "data": data_spec(data),
        # test accuracy at an equal budget, the rate decayed to 0 (a constant rate spikes now and then)
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128, "schedule": "cosine"},
    }
    return expand(base, {"depth": shapes, "seed": s["seeds"]})


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 3)) is not None:
        return pending
    depths = tags_of(rows, "depth")
    choice = stats.one_se_rule({d: seeds_of(rows, "val_acc", depth=d) for d in depths})
    if choice is None:
        return decide([BEATS_WIDEST.judge([])], rows, "too few seeds finished for the one-SE rule")
    shallow = depths[0]
    clause = BEATS_WIDEST.judge_paired(
        per_seed(rows, "test_acc", depth=choice.chosen), per_seed(rows, "test_acc", depth=shallow)
    )
    test, params = mean_by(rows, "depth", "test_acc"), mean_by(rows, "depth", "params")
    detail = (
        f"At about {params[choice.chosen]:,.0f} parameters the one-SE rule on "
        f"validation picks depth {choice.chosen} (best validation {pct(choice.best_mean)} at depth "
        f"{choice.best}); test "
        f"accuracy depth {choice.chosen}: {pct(test[choice.chosen])}, depth {shallow}: {pct(test[shallow])}"
    )
    depth = choice.chosen if clause.outcome == stats.HELD else None
    sentence = (
        f"depth {choice.chosen} at a fixed budget of {params[choice.chosen]:,.0f} parameters, test "
        f"{pct(test[choice.chosen])}"
    )
    return decide(
        [clause],
        rows,
        detail,
        numbers={"one_se": choice.to_dict()},
        recommended_depth=depth,
        recommendation=sentence if depth else "",
    )


def plot(rows: list[Row], figure) -> None:
    left, middle, right = figure.subplots(1, 3)
    for ax, metric, title in (
        (left, "val_acc", "validation (selects)"),
        (middle, "test_acc", "test (reports)"),
    ):
        accuracy_lines(
            ax,
            rows,
            "depth",
            metric,
            logx=True,
            xlabel="depth (width solved for the budget)",
            ylabel=f"{metric.split('_')[0]} accuracy (%)",
        )
        ax.set_title(f"{title} accuracy at a fixed budget", fontsize=10)
    lines(right, rows, "depth", "params", logx=True, xlabel="depth", ylabel="parameters")
    top = max((r["metrics"].get("params") or 0 for r in rows if r.get("metrics")), default=1)
    right.set(title="parameters (the budget held fixed)", ylim=(0, 1.2 * top))


STUDY = Study(
    name="width_vs_depth",
    claim=(
        "At a fixed parameter budget, trading width for depth helps up to a point: some depth beats the "
        "widest shallow net."
    ),
    anchor=(
        "MNIST-1D (Greydanus 2020): the 2-hidden-layer residual MLP (15,210 params) gets 68%, the 4-layer "
        "CNN (5,210 params) 94%: shape and prior matter more than size. Montúfar et al. 2014: deep nets "
        "have exponentially more linear regions per parameter."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
