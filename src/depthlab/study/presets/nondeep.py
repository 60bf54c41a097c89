"""Non-deep study: ParNet (Goyal et al. 2021, arXiv 2110.07641) keeps depth low with parallel streams; a small
ParNet against a CIFAR-style ResNet-20 of about the same parameters: accuracy, longest-path depth, and latency
in the training form and the re-parameterized deploy form."""

from __future__ import annotations

import math

from depthlab.study.presets.base import Finding, Row, Study, finished, mean, metric, pct, undecided, where
from depthlab.study.spec import expand

SIZES = {
    "quick": {"seeds": [0, 1], "steps": 300},
    "full": {"seeds": [0, 1, 2], "steps": 4000},
}
MODELS = {
    "parnet_lite": {"model.name": "parnet_lite", "model.width": 8, "diagnostics": ["cost", "cost_deploy"]},
    "resnet20": {"model.name": "resnet_cifar", "model.depth": 20, "model.width": 10, "diagnostics": ["cost"]},
}


def grid(size: str, data: str) -> list[dict]:
    s = SIZES[size]
    base = {
        "study": "nondeep",
        "model": {},
        "data": {"name": data},
        "train": {"steps": s["steps"], "lr": 3e-3, "batch_size": 128},
    }
    return expand(base, {"model": MODELS, "seed": s["seeds"]})


def _cost(rows: list[Row], key: str, form: str = "cost") -> float:
    return mean(
        float(((r.get("diagnostics") or {}).get(form) or {}).get(key, math.nan)) for r in finished(rows)
    )


def summary(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Per model: test accuracy, parameters, longest-path depth, latency (ms, batch 64) in train/deploy
    form."""
    out = {}
    for model in MODELS:
        part = where(rows, model=model)
        out[model] = {
            "test_acc": mean(metric(r, "test_acc") for r in finished(part)),
            "params": mean(metric(r, "params") for r in finished(part)),
            "depth": _cost(part, "longest_path_depth"),
            "latency": _cost(part, "infer_step_time"),
            "latency_deploy": _cost(part, "infer_step_time", "cost_deploy"),
        }
    return out


def analyze(rows: list[Row]) -> Finding:
    if (pending := undecided(rows, 2)) is not None:
        return pending
    s = summary(rows)
    par, res = s["parnet_lite"], s["resnet20"]
    close = par["test_acc"] >= res["test_acc"] - 0.03
    verdict = (
        f"ParNet-lite: {pct(par['test_acc'])} test accuracy, longest path {par['depth']:.0f} layers, "
        f"{par['params']:,.0f} params, {par['latency']:.2f} ms (train form) / {par['latency_deploy']:.2f} ms "
        f"(deploy form); ResNet-20: {pct(res['test_acc'])}, {res['depth']:.0f} layers, {res['params']:,.0f} "
        f"params, {res['latency']:.2f} ms (batch 64, this CPU); ParNet is "
        f"{'within 3 points of' if close else 'more than 3 points behind'} the deep net"
    )
    return Finding(close and par["depth"] < res["depth"], verdict, s)


def plot(rows: list[Row], figure) -> None:
    left, middle, right = figure.subplots(1, 3)
    s = summary(rows)
    names = list(s)
    left.bar(names, [s[n]["test_acc"] for n in names])
    left.set(title="test accuracy", ylim=(0, 1))
    middle.bar(names, [s[n]["depth"] for n in names])
    middle.set(title="longest-path depth (weight layers)")
    labels = ["parnet train form", "parnet deploy form", "resnet20"]
    right.bar(
        labels, [s["parnet_lite"]["latency"], s["parnet_lite"]["latency_deploy"], s["resnet20"]["latency"]]
    )
    right.set(title="inference latency, batch 64 (ms)")
    right.tick_params(axis="x", labelsize=7)


STUDY = Study(
    name="nondeep",
    claim=(
        "Depth is not the only way: a non-deep ParNet (parallel streams, depth ≤ 12) can come close to a "
        "deeper ResNet of similar size, and its fused deploy form runs faster than its training form."
    ),
    anchor=(
        "Goyal et al. 2021 (arXiv 2110.07641): 'a network with a depth of just 12 can achieve top-1 "
        "accuracy over 80% on ImageNet, 96% on CIFAR10, and 81% on CIFAR100'. He et al. 2016: ResNet-20 "
        "8.75% error on CIFAR-10 with 0.27M params."
    ),
    grid=grid,
    analyze=analyze,
    plot=plot,
    default_data="digits",
    data_kinds=("image",),
)
