"""``doctor``: train with ``watch`` on, then name what is wrong, with the evidence and the overrides to try.

The checks on the watch table live in ``checks.py`` (gradient flow by dLoss/dh, step size, dead and
saturated units, divergence), a transformer's in ``checks_transformer.py`` (gradients at the top of a
post-LN stack, attention entropy collapse, rank collapse), degradation in ``degradation.py`` (a half-depth
twin, both trained for an equal budget over paired seeds), the remedies in ``remedies.py``. The cures are the
seeds': ReLU-family activations, Xavier/He initialization (Glorot & Bengio 2010; He et al. 2015, arXiv
1502.01852), batch normalization (Ioffe & Szegedy 2015, arXiv 1502.03167) and skip connections (He et al.
2016, arXiv 1512.03385). ``diagnose(w)`` runs the table checks on a user's own watch, training nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

from torch import nn

from depthlab.diagnose import degradation
from depthlab.diagnose.checks import THRESHOLDS, check_rows
from depthlab.diagnose.verdict import PROBLEM, Verdict, Verdicts, problems_first
from depthlab.diagnose.watch import Watch
from depthlab.errors import DepthlabError

__all__ = ["THRESHOLDS", "DoctorReport", "Verdict", "diagnose", "doctor", "verdicts"]


def verdicts(
    rows: list[dict],
    status: str | None = None,
    diverged_step: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    config: Mapping[str, Any] | None = None,
    block_rows: list[dict] | None = None,
) -> list[Verdict]:
    """Every check on a watch table and, when given, the run's status (degradation needs two runs: doctor);
    ``block_rows`` (a transformer's ``Watch.block_rows``) adds the transformer checks."""
    return Verdicts(check_rows(rows, config, thresholds, status, diverged_step, block_rows))


def diagnose(
    w: Watch, model_config: Mapping[str, Any] | None = None, thresholds: Mapping[str, float] | None = None
) -> list[Verdict]:
    """The doctor's verdicts on a user's own run from its watch, without retraining; works on a watch still
    recording (it reads the first and the last recorded steps only, so it stays cheap on a long run).
    ``model_config`` (the model's dials, e.g. ``{"activation": "relu", "norm": "none", ...}``) lets the
    remedies name overrides the model does not already have."""
    if not isinstance(w, Watch):
        raise DepthlabError(f"diagnose(w={type(w).__name__}): expected a depthlab.diagnose.Watch")
    config = dict(model_config) if model_config is not None else None
    return Verdicts(check_rows(w.rows, config, thresholds, block_rows=_block_rows(w)))


def _block_rows(w: Watch) -> list[dict] | None:
    """A transformer's per-block table (possibly still empty); None for any other model."""
    return w.block_rows if w.block_capture is not None else None


@dataclass
class DoctorReport:
    """What ``doctor`` found: the verdicts, the watch table and the run(s) behind them."""

    model: str
    verdicts: list[Verdict]
    rows: list[dict]
    history: dict
    twin: dict | None = None
    config: dict[str, Any] = field(default_factory=dict)
    block_rows: list[dict] = field(default_factory=list)  # a transformer's per-block table (watch_blocks.py)

    @property
    def problems(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == PROBLEM]

    def summary(self) -> str:
        found = f"{len(self.problems)} problem(s) found" if self.problems else "no problem found"
        return f"doctor: {self.model} — {found}"

    def text(self) -> str:
        """One line per check: problems first, then notes, then the healthy ones."""
        return "\n".join([self.summary(), *(v.line() for v in problems_first(self.verdicts))])

    def _repr_html_(self) -> str:
        """In a notebook: the summary, the verdicts (problems first) and the gradient flow by layer."""
        from depthlab.diagnose.plots import gradient_flow_html  # matplotlib only when a notebook asks

        figure = gradient_flow_html(self.rows, f"{self.model}: gradient norm by layer") if self.rows else ""
        return f"<p><b>{escape(self.summary())}</b></p>{Verdicts(self.verdicts)._repr_html_()}{figure}"

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "history": self.history,
            "twin": self.twin,
            "config": self.config,
        }


def _split(model: str | nn.Module, overrides: Mapping[str, Any]) -> tuple[dict, dict, str]:
    """The model's overrides (a registered name's), the training overrides, and a name for the report."""
    from depthlab import config as cfg
    from depthlab.models import MODELS
    from depthlab.train import TrainConfig

    if isinstance(model, nn.Module):
        return {}, dict(overrides), type(model).__name__
    model_kw, train_kw = cfg.split_overrides(dict(overrides), MODELS.get(model).config_cls, TrainConfig)
    return model_kw, train_kw, model


def _settings(net: nn.Module, train_kw: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting in force (the model's dials, then training's): remedies never repeat one of them."""
    from depthlab.train.engine import resolve_config

    model_config = getattr(net, "config", None)
    dials = dataclasses.asdict(model_config) if dataclasses.is_dataclass(model_config) else {}
    return dials | dataclasses.asdict(resolve_config(None, dict(train_kw)))


def doctor(
    model: str | nn.Module,
    data: str | Any = "mnist1d",
    *,
    steps: int = 200,
    every: int = 10,
    twin: bool = True,
    twin_steps: int = 4000,
    seeds: int = 3,
    thresholds: Mapping[str, float] | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    **overrides: Any,
) -> DoctorReport:
    """Train ``model`` for ``steps`` with watch on and check the table; with ``twin`` (a registered model of
    depth >= 4) also train it and a half-depth twin for ``twin_steps`` each over ``seeds`` paired seeds to
    judge degradation (``degradation.judge``). ``progress`` hears one line as each training run starts (the
    twins can take minutes).

    ``model`` is a registered name (``overrides`` then go to its config or to training) or any nn.Module
    (``overrides`` go to training).
    """
    from depthlab.data import load_dataset
    from depthlab.diagnose.checks import limits
    from depthlab.train.engine import resolve_config
    from depthlab.train.launch import build_and_fit

    for name, value in (("steps", steps), ("twin_steps", twin_steps), ("seeds", seeds)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DepthlabError(f"{name}={value!r}: must be an integer >= 1")
    limits(thresholds)  # a bad threshold fails before any training
    dataset = load_dataset(data, seed=seed) if isinstance(data, str) else data
    model_kw, train_kw, name = _split(model, overrides)
    config = resolve_config(None, {"quiet": True, "seed": seed} | train_kw | {"steps": steps})
    watches: list[Watch] = []

    say = progress or (lambda line: None)

    def watched(net: nn.Module) -> list[Watch]:
        say(f"doctor: {name}, {steps} steps with watch on")  # once the net is built: a bad one is one line
        watches.append(Watch(net, every=every))
        return watches

    start = time.perf_counter()
    net, history = build_and_fit(model, dataset, config, model_kw, init_seed=seed, prepare=watched)
    pace = (time.perf_counter() - start) / steps  # seconds a step, watch and build included: an upper bound
    w, settings = watches[0], _settings(net, train_kw)
    found = check_rows(w.rows, settings, thresholds, history.status, history.diverged_step, _block_rows(w))
    depth = getattr(getattr(net, "config", None), "depth", None)
    twin_info = None
    if twin and isinstance(model, str) and isinstance(depth, int) and depth >= 4 and history.status == "ok":
        plan = degradation.TwinPlan(twin_steps, seeds)
        say(_twins_ahead(depth, plan, pace))
        runs = _twin_runs(model, dataset, model_kw, train_kw, depth, plan, say)
        found.append(degradation.verdict(runs, plan, settings))
        twin_info = runs.to_dict()
    return DoctorReport(name, found, w.rows, history.to_dict(), twin_info, dict(overrides), w.block_rows)


def _twins_ahead(depth: int, plan: degradation.TwinPlan, pace: float) -> str:
    """What the twins will cost, at the brief run's pace (a step's cost grows about with depth)."""
    seconds = pace * plan.steps * plan.seeds * (1 + (depth // 2) / depth)
    took = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
    return (
        f"doctor: degradation twins next, depth {depth} and {depth // 2} x {plan.seeds} seeds x {plan.steps} "
        f"steps, about {took} at this pace (--no-twin skips them, --twin-steps shortens them)"
    )


def _twin_runs(name: str, data, model_kw, train_kw, depth: int, plan, say) -> degradation.TwinRuns:
    from depthlab.train.batches import steps_per_epoch
    from depthlab.train.engine import resolve_config
    from depthlab.train.launch import build_and_fit

    run_kw = {"quiet": True} | dict(train_kw) | {"steps": plan.steps, "eval_train": True}
    per_epoch = steps_per_epoch(len(data.x_train), resolve_config(None, run_kw).batch_size)
    run_kw["eval_every"] = max(1, plan.steps // degradation.K // per_epoch)  # a record at about mid-budget

    def train(d: int, seed: int):
        say(f"doctor: degradation twin, depth {d}, seed {seed + 1} of {plan.seeds}, {plan.steps} steps")
        config = resolve_config(None, run_kw | {"seed": seed})
        return build_and_fit(name, data, config, dict(model_kw) | {"depth": d})[1]

    return degradation.train_twins(train, depth, plan)
