"""Transfer study: features learned by the first layers of a deep net transfer to a related task (Yosinski et
al. 2014, arXiv 1411.1792).

Pretrain on the first half of the classes, copy the stem and the first blocks into a fresh net for the other
half, keep them frozen or fine-tune them, and train on few labels; the control trains from scratch. The
evidence is test accuracy on the new classes against the number of transferred layers.
"""

from __future__ import annotations

from depthlab.study.presets.base import Finding, Row, Study, finished, mean, metric, pct, undecided, where
from depthlab.study.spec import expand

SIZES = {
    "quick": {"layers": [1, 3, 5], "seeds": [0, 1], "steps": 300, "train_size": 100},
    "full": {"layers": [1, 2, 3, 4, 5, 6, 7], "seeds": [0, 1, 2, 3], "steps": 3000, "train_size": 100},
}


def _setups(layers: list[int]) -> dict[str, dict]:
    setups = {
        "scratch": {"transfer.layers": 0, "transfer.frozen": False, "tags.layers": 0, "tags.mode": "scratch"}
    }
    for n in layers:
        for mode, frozen in (("frozen", True), ("fine-tuned", False)):
            setups[f"{mode} {n}"] = {
                "transfer.layers": n,
                "transfer.frozen": frozen,
                "tags.layers": n,
                "tags.mode": mode,
            }
    return setups


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    depth = max(s["layers"]) + 1
    base = {
        "study": "transfer",
        "task": "transfer",
        "model": {"name": "mlp", "width": 64, "depth": depth, "norm": "batch"},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 64},
        "transfer": {"train_size": s["train_size"]},
    }
    return expand(base, {"setup": _setups(s["layers"]), "seed": s["seeds"]})


def _acc(rows: list[Row], **tags) -> float:
    return mean(metric(r, "test_acc") for r in finished(where(rows, **tags)))


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 3)) is not None:
        return pending
    scratch = _acc(rows, mode="scratch")
    layers = sorted({r["layers"] for r in rows if r["mode"] != "scratch"})
    tuned = {n: _acc(rows, mode="fine-tuned", layers=n) for n in layers}
    frozen = {n: _acc(rows, mode="frozen", layers=n) for n in layers}
    best = max(tuned, key=tuned.get)
    held = tuned[best] > scratch + 0.01
    verdict = (
        f"on the held-out classes with few labels: scratch {pct(scratch)}; fine-tuned after transferring "
        f"{', '.join(f'{n}: {pct(v)}' for n, v in tuned.items())}; frozen "
        f"{', '.join(f'{n}: {pct(v)}' for n, v in frozen.items())} layers; best: fine-tuned {best} layers, "
        f"{'+' if tuned[best] >= scratch else ''}{100 * (tuned[best] - scratch):.1f} points over scratch"
    )
    return Finding(held, verdict, {"scratch": scratch, "fine-tuned": tuned, "frozen": frozen})


def plot(rows: list[Row], figure) -> None:
    ax = figure.subplots(1, 1)
    layers = sorted({r["layers"] for r in rows if r["mode"] != "scratch"})
    for mode in ("frozen", "fine-tuned"):
        ax.plot(layers, [_acc(rows, mode=mode, layers=n) for n in layers], marker="o", label=mode)
    ax.axhline(_acc(rows, mode="scratch"), color="gray", linestyle="--", label="scratch")
    ax.set(
        title="test accuracy on new classes vs transferred layers",
        xlabel="layers transferred",
        ylabel="test accuracy",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


STUDY = Study(
    name="transfer",
    claim=(
        "Features learned by a deep net's first layers transfer: reusing them helps a related task with few "
        "labels, more so when fine-tuned."
    ),
    anchor=(
        "Yosinski et al. 2014 (arXiv 1411.1792), ImageNet halves A/B: transferred first layers are general, "
        "higher layers specific; transfer plus fine-tuning improves generalization and the gain lingers "
        "(exact numbers are figure-only)."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
)
