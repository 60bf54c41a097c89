"""``doctor``: train briefly with ``watch`` on, then name what is wrong, with the evidence and the remedy.

Each check reads the watch table (or the run's history) and compares one number with a documented threshold
(``THRESHOLDS``; docs/diagnose.md explains them). The remedies are the seeds' cures: ReLU-family activations,
Xavier/He initialization (Glorot & Bengio 2010; He et al. 2015, arXiv 1502.01852), batch normalization (Ioffe
& Szegedy 2015, arXiv 1502.03167) and skip connections (He et al. 2016, arXiv 1512.03385).

- vanishing gradients: median over recorded steps of ||grad W_first|| / ||grad W_last|| (first and last weight
  layer along the depth) below ``vanishing_ratio``;
- exploding gradients: that ratio above ``exploding_ratio``; or, since a net that explodes in both
  directions keeps the ratio near 1, the median over steps of the largest ||grad W|| / ||W|| above
  ``exploding_relative``; or an infinite gradient norm;
- dead units: at the last recorded step, some ReLU-family layer has more than ``dead_frac`` of its units dead;
- saturation: at the last recorded step, some sigmoid/tanh layer has more than ``saturated_frac`` of its
  values within 1% of the range from a bound;
- divergence: the loss became NaN/inf (the engine's ``diverged`` status);
- degradation: a shallower twin (same config, half the depth) fits the training set better by more than
  ``degradation_gap`` (He et al. 2016's definition: training, not test, accuracy).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from depthlab.errors import DepthlabError

THRESHOLDS = {
    "vanishing_ratio": 1e-2,
    "exploding_ratio": 1e2,
    "exploding_relative": 1e2,
    "dead_frac": 0.5,
    "saturated_frac": 0.5,
    "degradation_gap": 0.02,
}

REMEDIES = {
    "vanishing gradients": "use a ReLU-family activation (activation=relu), He or Xavier init "
    "(init=he_normal), batch normalization (norm=batch) or skip connections (residual=true)",
    "exploding gradients": "scale the init down (init=he_normal or xavier_uniform), add norm=batch, clip "
    "gradients (grad_clip=1.0) or lower the learning rate",
    "dead units": "lower the learning rate, use activation=leaky_relu or prelu, He init (init=he_normal) or "
    "norm=batch",
    "saturation": "use a ReLU-family activation (activation=relu), Xavier init for tanh/sigmoid "
    "(init=xavier_uniform) or norm=batch",
    "divergence": "lower the learning rate, add warmup (warmup=100), clip gradients (grad_clip=1.0) or "
    "add norm=batch",
    "degradation": "add skip connections (residual=true) and batch normalization (norm=batch), or use the "
    "shallower depth",
}


@dataclass(frozen=True)
class Verdict:
    """One check: whether it fired, the number behind it, the threshold, and what to try."""

    check: str
    flagged: bool
    value: float
    threshold: float
    evidence: str
    remedy: str

    def line(self) -> str:
        """``PROBLEM vanishing gradients: ... -> try ...`` or ``ok       vanishing gradients: ...``."""
        head = f"{'PROBLEM' if self.flagged else 'ok':8}{self.check}: {self.evidence}"
        return f"{head}\n        try: {self.remedy}" if self.flagged else head


def _finite(values) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _by_step(rows: list[dict]) -> dict[int, list[dict]]:
    steps: dict[int, list[dict]] = {}
    for row in rows:
        steps.setdefault(row["step"], []).append(row)
    return steps


def gradient_ratio(rows: list[dict]) -> float:
    """Median over steps of first/last weight layer gradient norm (layers by depth, then execution)."""
    ratios = []
    for layer_rows in _by_step(rows).values():
        ordered = sorted(layer_rows, key=lambda r: (r["depth"], r["layer"]))
        first, last = ordered[0]["grad_norm"], ordered[-1]["grad_norm"]
        if _finite([first, last]) and last > 0:
            ratios.append(first / last)
    return statistics.median(ratios) if ratios else math.nan


def relative_gradient(rows: list[dict]) -> float:
    """Median over steps of the largest ||grad W|| / ||W|| of any layer."""
    worst = []
    for layer_rows in _by_step(rows).values():
        ratios = _finite(r["grad_norm"] / r["weight_norm"] for r in layer_rows if r["weight_norm"] > 0)
        if ratios:
            worst.append(max(ratios))
    return statistics.median(worst) if worst else math.nan


def _worst_last_step(rows: list[dict], column: str) -> tuple[float, str]:
    if not rows:
        return math.nan, ""
    last = _by_step(rows)[max(r["step"] for r in rows)]
    scored = [(r[column], r["name"]) for r in last if _finite([r[column]])]
    return max(scored) if scored else (math.nan, "")


def gradient_verdicts(rows: list[dict], thresholds: Mapping[str, float]) -> list[Verdict]:
    """Vanishing and exploding gradients from the watch table."""
    ratio, relative = gradient_ratio(rows), relative_gradient(rows)
    infinite = any(r["grad_norm"] == math.inf for r in rows)
    low, high, rel_high = (
        thresholds[k] for k in ("vanishing_ratio", "exploding_ratio", "exploding_relative")
    )
    text = f"first/last layer gradient-norm ratio {ratio:.3g}"
    vanishing = Verdict(
        "vanishing gradients",
        ratio < low,
        ratio,
        low,
        f"{text} (flagged below {low:g})",
        REMEDIES["vanishing gradients"],
    )
    exploding_text = (
        f"{text} (flagged above {high:g}); largest gradient/weight norm {relative:.3g} "
        f"(flagged above {rel_high:g})" + ("; some gradient norms are inf" if infinite else "")
    )
    flagged = ratio > high or relative > rel_high or infinite
    exploding = Verdict(
        "exploding gradients", flagged, ratio, high, exploding_text, REMEDIES["exploding gradients"]
    )
    return [vanishing, exploding]


def unit_verdicts(rows: list[dict], thresholds: Mapping[str, float]) -> list[Verdict]:
    """Dead ReLU units and saturated sigmoid/tanh units at the last recorded step."""
    verdicts = []
    for check, column, key, what in (
        ("dead units", "dead_frac", "dead_frac", "of units dead"),
        ("saturation", "saturated_frac", "saturated_frac", "of values saturated"),
    ):
        value, name = _worst_last_step(rows, column)
        limit = thresholds[key]
        evidence = (
            f"worst layer {name!r}: {value:.0%} {what} (flagged above {limit:.0%})"
            if name
            else "no layer with this kind of activation module"
        )
        verdicts.append(Verdict(check, bool(name) and value > limit, value, limit, evidence, REMEDIES[check]))
    return verdicts


def divergence_verdict(status: str, diverged_step: int | None) -> Verdict:
    """The loss became NaN/inf."""
    flagged = status == "diverged"
    evidence = f"loss became NaN/inf at step {diverged_step}" if flagged else "loss stayed finite"
    return Verdict(
        "divergence",
        flagged,
        float(diverged_step if flagged else math.nan),
        math.nan,
        evidence,
        REMEDIES["divergence"],
    )


def degradation_verdict(
    depth: int, train_acc: float, twin_depth: int, twin_train_acc: float, gap: float
) -> Verdict:
    """A deeper net fits the training set worse than its shallower twin."""
    deficit = twin_train_acc - train_acc
    evidence = (
        f"depth {depth} fits {train_acc:.1%} of the training set, depth {twin_depth} fits "
        f"{twin_train_acc:.1%} (flagged when the deeper is behind by more than {gap:.0%})"
    )
    return Verdict("degradation", deficit > gap, deficit, gap, evidence, REMEDIES["degradation"])


def verdicts(
    rows: list[dict],
    status: str = "ok",
    diverged_step: int | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> list[Verdict]:
    """Every check on the watch table and the run's status (degradation needs two runs: see doctor)."""
    limits = THRESHOLDS | dict(thresholds or {})
    unknown_keys = set(limits) - set(THRESHOLDS)
    if unknown_keys:
        from depthlab.errors import unknown

        raise unknown("threshold", sorted(unknown_keys)[0], THRESHOLDS)
    return [
        *gradient_verdicts(rows, limits),
        *unit_verdicts(rows, limits),
        divergence_verdict(status, diverged_step),
    ]


@dataclass
class DoctorReport:
    """What ``doctor`` found: the verdicts, the watch table and the run(s) behind them."""

    model: str
    verdicts: list[Verdict]
    rows: list[dict]
    history: dict
    twin: dict | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def problems(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.flagged]

    def text(self) -> str:
        """The verdicts in plain words, one per check, problems first."""
        ordered = self.problems + [v for v in self.verdicts if not v.flagged]
        summary = f"{len(self.problems)} problem(s) found" if self.problems else "no problem found"
        return "\n".join([f"doctor: {self.model} — {summary}", *(v.line() for v in ordered)])

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "verdicts": [asdict(v) for v in self.verdicts],
            "history": self.history,
            "twin": self.twin,
            "config": self.config,
        }


def _build(model: str | nn.Module, data, overrides: Mapping[str, Any]) -> tuple[nn.Module, dict, str]:
    """The model (built by name for ``data`` when a string) and the overrides left for training."""
    from depthlab import config as cfg
    from depthlab.models import MODELS, create_model
    from depthlab.train import TrainConfig

    if isinstance(model, nn.Module):
        return model, dict(overrides), type(model).__name__
    entry = MODELS.get(model)
    model_kw, train_kw = cfg.split_overrides(dict(overrides), entry.config_cls, TrainConfig)
    built = create_model(model, **(data.model_kwargs() | model_kw))
    return built, train_kw, model


def _train_accuracy(model: nn.Module, data) -> float:
    from depthlab.train import evaluate

    device = next(model.parameters()).device
    return evaluate(model, data.x_train.to(device), data.y_train.to(device), data.task)["acc"]


def doctor(
    model: str | nn.Module,
    data: str | Any = "mnist1d",
    *,
    steps: int = 200,
    every: int = 10,
    twin: bool = True,
    thresholds: Mapping[str, float] | None = None,
    seed: int = 0,
    **overrides: Any,
) -> DoctorReport:
    """Train ``model`` briefly on ``data`` with watch on and return the verdicts (see the module docstring).

    ``model`` is a registered name (``overrides`` then go to its config or to the training config) or any
    nn.Module (``overrides`` go to training). ``twin`` trains a half-depth twin of a named model for the
    degradation check.
    """
    from depthlab.data import load_dataset
    from depthlab.diagnose.watch import watch
    from depthlab.train import fit

    if not isinstance(steps, int) or steps < 1:
        raise DepthlabError(f"steps={steps!r}: must be an integer >= 1")
    dataset = load_dataset(data, seed=seed) if isinstance(data, str) else data
    net, train_kw, name = _build(model, dataset, overrides)
    train_kw = {"quiet": True, "seed": seed} | train_kw | {"steps": steps}
    with watch(net, every=every) as w:
        history = fit(net, dataset, callbacks=[w], **train_kw)
    found = verdicts(w.rows, history.status, history.diverged_step, thresholds)
    twin_info = None
    depth = getattr(getattr(net, "config", None), "depth", None)
    if twin and isinstance(model, str) and depth and depth >= 4 and history.status == "ok":
        twin_info, verdict = _twin_check(model, dataset, overrides, depth, net, train_kw, thresholds)
        found.append(verdict)
    return DoctorReport(name, found, w.rows, history.to_dict(), twin_info, dict(overrides))


def _twin_check(name: str, data, overrides, depth: int, net: nn.Module, train_kw, thresholds):
    from depthlab.models import create_model
    from depthlab.train import fit

    twin_depth = depth // 2
    model_kw = {k: v for k, v in overrides.items() if k not in train_kw} | {"depth": twin_depth}
    shallow = create_model(name, **(data.model_kwargs() | model_kw))
    twin_history = fit(shallow, data, **train_kw)
    deep_acc, shallow_acc = _train_accuracy(net, data), _train_accuracy(shallow, data)
    gap = (THRESHOLDS | dict(thresholds or {}))["degradation_gap"]
    info = {"depth": twin_depth, "train_acc": shallow_acc, "status": twin_history.status}
    return info, degradation_verdict(depth, deep_acc, twin_depth, shallow_acc, gap)
