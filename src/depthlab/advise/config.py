"""What an advice is asked: data, model, depths, latency budget, compute budget, seeds; checked up front; and
the metric it ranks depths by (validation accuracy, or the validation RMSE of a numeric target)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from depthlab.config import coerce, field_types
from depthlab.errors import DepthlabError, check

MIN_FINAL_SEEDS = (
    3  # the one-SE rule needs a standard error; three seeds is the least that gives one honestly
)
MIN_RUNG_STEPS = 20  # a learning curve needs a few evaluations to be fitted
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


@dataclass
class AdviseConfig:
    """The question: which depth of ``model`` to use on ``data`` within ``latency_ms`` at ``batch``.

    ``steps`` is the full budget of one run (a finalist stops earlier on a plateau of its training loss);
    ``budget`` caps the whole advice, in steps (``"20000"``) or time (``"10m"``, ``"90s"``).
    """

    data: str
    model: str = "mlp"
    data_options: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    depths: tuple[int, ...] | None = None
    max_depth: int = 8
    latency_ms: float | None = None
    batch: int = 1
    budget: str | int | None = None
    steps: int = 2000
    seeds: int = MIN_FINAL_SEEDS
    finalists: int = 2
    eta: int = 3
    probe_steps: int = 8
    plateau_window: int | None = None  # default: a tenth of ``steps``
    plateau_tol: float = 0.01
    out: str = "runs/advise"
    quiet: bool = False
    baselines: bool = True  # depth 0 (linear) and gradient-boosted trees beside the depths
    variants: bool = True  # an untrainable depth tries the doctor's remedies (unless norm/residual are given)

    def __post_init__(self):
        check(self.max_depth >= 1, f"max_depth={self.max_depth}: must be >= 1")
        if self.depths is None:
            self.depths = tuple(range(1, self.max_depth + 1))
        self.depths = tuple(sorted(set(int(d) for d in self.depths)))
        check(bool(self.depths) and self.depths[0] >= 1, f"depths={self.depths}: need depths >= 1")
        check(
            self.seeds >= MIN_FINAL_SEEDS, f"seeds={self.seeds}: must be >= {MIN_FINAL_SEEDS} (one-SE rule)"
        )
        check(self.finalists >= 1, f"finalists={self.finalists}: must be >= 1")
        check(self.steps >= MIN_RUNG_STEPS, f"steps={self.steps}: must be >= {MIN_RUNG_STEPS}")
        check(self.batch >= 1, f"batch={self.batch}: must be >= 1")
        check(self.probe_steps >= 2, f"probe_steps={self.probe_steps}: must be >= 2")
        if self.latency_ms is not None:
            check(0 < self.latency_ms < math.inf, f"latency_ms={self.latency_ms}: must be > 0")
        for key in ("steps", "epochs", "seed", "quiet", "callbacks"):
            check(key not in self.train, f"train option {key!r}: set by the advisor (use steps=/seeds=)")
        if self.plateau_window is None:
            self.plateau_window = max(1, self.steps // 10)
        self._type_options()

    def _type_options(self) -> None:
        """Options as the configs they feed would read them (``"64"`` from the command line is ``64``), so the
        same settings given from the CLI or from Python hash alike and share stored pieces. Keys a config does
        not have are left for it to reject, with the valid ones."""
        from depthlab.data.registry import DATASETS
        from depthlab.models.registry import MODELS
        from depthlab.train import TrainConfig

        self.train = typed(self.train, TrainConfig)
        self.model_options = typed(self.model_options, MODELS.get(self.model).config_cls)
        self.data_options = typed(self.data_options, DATASETS.get(self.data).options_cls)


def typed(options: dict[str, Any], cls: type) -> dict[str, Any]:
    """Each value of ``options`` coerced to the type of the field of dataclass ``cls`` with its name."""
    types = field_types(cls)
    return {k: coerce(k, v, types[k]) if k in types else v for k, v in options.items()}


@dataclass(frozen=True)
class Budget:
    """A compute budget: so many training steps, or so many seconds."""

    amount: float
    unit: str  # "steps" | "seconds"

    def describe(self) -> str:
        return f"{self.amount:g} steps" if self.unit == "steps" else f"{self.amount:g} s"


def parse_budget(text: str | int | None) -> Budget | None:
    """``"20000"`` or 20000 -> steps; ``"10m"``, ``"10min"``, ``"90s"``, ``"1.5h"`` -> seconds."""
    if text is None:
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        check(text >= 1, f"budget={text}: must be >= 1 step")
        return Budget(float(text), "steps")
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([a-z]*)\s*", str(text).lower())
    if not match or (match.group(2) and match.group(2) not in (*_UNITS, "steps")):
        raise DepthlabError(f"budget {text!r}: give steps (20000) or a time (10m, 90s, 1.5h)")
    value, unit = float(match.group(1)), match.group(2)
    check(value > 0, f"budget {text!r}: must be > 0")
    if unit in ("", "steps"):
        return Budget(math.floor(value), "steps")
    return Budget(value * _UNITS[unit], "seconds")


@dataclass(frozen=True)
class Metric:
    """What depths are ranked by, as a *score* where higher is better (the accuracy; minus the RMSE), and how
    a score reads in the metric's own units (a percentage; the RMSE in the target's units, from the
    standardized target's RMSE times the training rows' std)."""

    name: str  # "accuracy" | "rmse" | "bpc"
    sign: int  # score = sign * value
    bounds: tuple[float, float]  # of the score
    scale: float = 1.0  # value in its own units = sign * score * scale
    min_effect: float = 0.01  # in score units: a point of accuracy; a hundredth of the target's std

    @property
    def label(self) -> str:
        return {"accuracy": "acc %", "rmse": "RMSE", "bpc": "bits/char"}[self.name]

    @property
    def described(self) -> str:
        """The validation score in words, with its units (an axis label)."""
        return {
            "accuracy": "validation accuracy (%)",
            "rmse": "validation RMSE (target units)",
            "bpc": "validation bits per character",
        }[self.name]

    def shown(self, score: float | None) -> float | None:
        """A score in the metric's own units (accuracy in [0, 1]; RMSE in the target's units)."""
        return None if score is None else self.sign * score * self.scale

    def shown_interval(self, mean: float, low: float, high: float) -> tuple[float, float, float]:
        """(value, low, high) in the metric's own units; the ends swap when lower is better."""
        ends = sorted((self.shown(low), self.shown(high)))
        return self.shown(mean), ends[0], ends[1]

    def score(self, final: Mapping[str, Any], split: str = "val") -> float | None:
        """The score of a run's final metrics (``fit``'s History.final) on ``split``."""
        if self.name == "accuracy":
            return final.get(f"{split}_acc")
        if self.name == "bpc":
            bpc = final.get(f"{split}_bpc")
            return None if bpc is None else -bpc
        loss = final.get(f"{split}_loss")
        return None if loss is None else -math.sqrt(loss)


ACCURACY = Metric("accuracy", 1, (0.0, 1.0))
BPC = Metric("bpc", -1, (-math.inf, 0.0))  # language modelling: bits per character, lower is better


def metric_for(task: str, meta: Mapping[str, Any]) -> Metric:
    """Accuracy for classification; bits per character for language modelling; RMSE for regression, in the
    target's units when the data set standardized a single target (``target_std`` in its metadata), else in
    the units it holds."""
    if task == "classification":
        return ACCURACY
    if task == "lm":
        return BPC
    std = meta.get("target_std")
    scale = float(std[0]) if isinstance(std, list) and len(std) == 1 else 1.0
    return Metric("rmse", -1, (-math.inf, 0.0), scale)
