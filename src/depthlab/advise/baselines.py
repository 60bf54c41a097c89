"""Non-deep baselines in the same table: is depth, or a neural net at all, worth it on this data?

On small tabular data a gradient-boosted tree or a linear model often beats a deep net (Grinsztajn, Oyallon &
Varoquaux 2022, "Why do tree-based models still outperform deep learning on tabular data?", arXiv
2207.08815), so the advice shows two references beside the depths, on the same splits and the same seeds,
scored by the same metric with the same Student-t interval over seeds:

- **depth 0**: a linear model (logistic regression for classes, least squares for a numeric target: one
  ``nn.Linear`` on the flattened input) trained by the same engine with the finalists' training settings;
- **gradient-boosted trees**: scikit-learn's ``HistGradientBoostingClassifier`` / ``Regressor`` with its
  defaults (``random_state`` = the seed), fitted on the training split's tensors.

A baseline is *as good* as the recommended depth when its mean score reaches the low end of the depth's
interval; the advice then says so in its first line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from depthlab import stats
from depthlab.advise.config import ACCURACY, Metric
from depthlab.data import Dataset
from depthlab.train.engine import resolve_config
from depthlab.train.launch import build_and_fit

LINEAR = "linear (depth 0)"
TREES = "gradient-boosted trees"
VERDICTS = {
    LINEAR: "a linear model is as good here: depth does not pay",
    TREES: "gradient-boosted trees are as good here: a neural net does not pay",
}


@dataclass
class Baseline:
    """One reference model's runs over the seeds: validation and test scores, and steps trained (engine)."""

    name: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""  # why it was not run, when it was not

    def scores(self, key: str = "score") -> list[float]:
        return [r[key] for r in self.runs if r.get(key) is not None and math.isfinite(r[key])]

    @property
    def measured(self) -> stats.Interval:
        return stats.paired_t(self.scores())

    def to_dict(self, metric: Metric) -> dict[str, Any]:
        iv, test = self.measured, self.scores("test_score")
        shown = metric.shown_interval(iv.estimate, iv.low, iv.high) if self.runs else None
        return {
            "name": self.name,
            metric.name: None if shown is None else dict(zip(("mean", "low", "high"), shown, strict=True)),
            f"test_{metric.name}": metric.shown(float(np.mean(test))) if test else None,
            "seeds": len(self.runs),
            "steps": sum(r.get("steps", 0) for r in self.runs),
            "note": self.note,
        }


def linear_model(data: Dataset) -> nn.Module:
    """One linear layer from the flattened input to the outputs (a logistic or least-squares model)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(data.input_shape), data.num_classes))


def linear_run(data: Dataset, seed: int, train: dict[str, Any], metric: Metric) -> dict[str, Any]:
    """Depth 0 by the same engine: the linear model, seeded like a depth's init, trained with ``train``."""
    config = resolve_config(None, {"quiet": True, **train, "seed": seed})
    torch.manual_seed(seed)  # as build_for seeds a depth's init
    _, history = build_and_fit(linear_model(data), data, config)
    final = history.final
    return {
        "status": history.status,
        "seed": seed,
        "steps": history.steps,
        "score": metric.score(final, "val"),
        "test_score": metric.score(final, "test"),
    }


def _table(data: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    return x.reshape(len(x), -1).float().numpy(), y.reshape(len(y), -1).numpy() if y.ndim > 1 else y.numpy()


def trees_run(data: Dataset, seed: int, metric: Metric) -> dict[str, Any]:
    """scikit-learn's histogram gradient boosting, its defaults, fitted on the training split; val/test."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    x, y = _table(data, "train")
    if metric is ACCURACY:
        model = HistGradientBoostingClassifier(random_state=seed).fit(x, y)
    else:
        model = HistGradientBoostingRegressor(random_state=seed).fit(x, y.ravel())
    result: dict[str, Any] = {"status": "ok", "seed": seed, "steps": 0}
    for split, key in (("val", "score"), ("test", "test_score")):
        xs, ys = _table(data, split)
        predicted = model.predict(xs)
        if metric is ACCURACY:
            result[key] = float(np.mean(predicted == ys)) if len(ys) else None
        else:
            result[key] = -math.sqrt(float(np.mean((predicted - ys.ravel()) ** 2))) if len(ys) else None
    return result


def trees_note(data: Dataset) -> str:
    """Why the trees cannot run on this data ('' when they can)."""
    if data.task == "regression" and data.y_train.ndim > 1 and data.y_train.shape[1] > 1:
        return "not run: more than one target column (the trees fit one)"
    return ""


def as_good(baseline: Baseline, low: float) -> bool:
    """The baseline's mean score reaches ``low``, the low end of the recommended depth's interval."""
    scores = baseline.scores()
    return bool(scores) and float(np.mean(scores)) >= low
