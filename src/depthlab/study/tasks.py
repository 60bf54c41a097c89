"""The work behind one run spec: build the data and the model, train with ``depthlab.train.fit``, measure.

Tasks (``spec["task"]``): ``train`` (the default); ``transfer`` (pretrain on one half of the classes, then
fine-tune on the other half with few labels; Yosinski et al. 2014, arXiv 1411.1792); ``construct`` (hand-set
weights, no training); ``optimum`` (the best piecewise-linear fit); ``init`` (diagnostics of an untrained
net); ``latency`` (interleaved timings of several shapes). Each returns a ``TaskResult``; ``run_spec`` turns
it into the dict the worker and the store read, and the worker adds timings and environment.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import torch

from depthlab.data import Dataset, load_dataset
from depthlab.diagnose.rank import block_residuals
from depthlab.errors import unknown
from depthlab.models.base import random_input
from depthlab.models.params import count_params
from depthlab.seeds import Stream, derive_seed
from depthlab.study import measures
from depthlab.train import Callback, History, TrainConfig, TrainState
from depthlab.train.batches import steps_per_epoch
from depthlab.train.engine import resolve_config
from depthlab.train.launch import Prepare, build_and_fit, build_for


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """What one task measured: the parts of a stored row that the task itself fills in."""

    status: str = "ok"
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: dict[str, Any] = dataclasses.field(default_factory=dict)
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)
    fit_seconds: float = 0.0

    def as_row(self) -> dict[str, Any]:
        """The dict the worker and the store read (shallow on purpose: ``dataclasses.asdict`` would also turn
        dataclasses inside the diagnostics into dicts, and change what is stored)."""
        return {
            "status": self.status,
            "metrics": self.metrics,
            "history": self.history,
            "diagnostics": self.diagnostics,
            "fit_seconds": self.fit_seconds,
        }


@lru_cache(maxsize=8)
def _load(name: str, options_json: str, seed: int) -> Dataset:
    # Workers run many specs on the same data: generate it once per process.
    return load_dataset(name, seed=seed, **json.loads(options_json))


def dataset_for(spec: Mapping[str, Any]) -> Dataset:
    """The spec's data set, with the training split cut to ``data.train_size`` examples when given."""
    options = {k: v for k, v in spec["data"].items() if k not in ("name", "train_size", "seed")}
    data = _load(spec["data"]["name"], json.dumps(options, sort_keys=True), spec["data"].get("seed", 0))
    size = spec["data"].get("train_size")
    if size:
        data = dataclasses.replace(data, x_train=data.x_train[:size], y_train=data.y_train[:size])
    return data


def _model_keys(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec["model"].items() if k != "name"}


def init_seed(spec: Mapping[str, Any], init: Stream | None = None) -> int:
    """The seed of a run's initial weights: the spec's seed, or (``init``) a second model's stream of it."""
    seed = spec.get("seed", 0)
    return seed if init is None else derive_seed(seed, init)


def build_model(spec: Mapping[str, Any], data: Dataset, init: Stream | None = None) -> torch.nn.Module:
    """The spec's model for ``data`` (``build_for``), its initial weights fixed by ``init_seed``."""
    return build_for(spec["model"]["name"], data, _model_keys(spec), init_seed(spec, init))


# A study reads a run's final metrics only (its learning curve is the training loss, kept every sync
# window), so validation runs about every EVAL_STEPS steps instead of every epoch: on 300 examples an epoch
# is 3 steps, and a validation pass over MNIST-1D's 2,400 examples after each cost more than the training.
# Evaluation never changes training, so the numbers are the same.
EVAL_STEPS = 200


def eval_every(data: Dataset, train: Mapping[str, Any]) -> int:
    """Epochs between validation passes, about ``EVAL_STEPS`` steps apart."""
    per_epoch = steps_per_epoch(len(data.x_train), train.get("batch_size", TrainConfig.batch_size))
    return max(1, EVAL_STEPS // per_epoch)


def train_once(
    spec: Mapping[str, Any],
    data: Dataset,
    model: torch.nn.Module | None = None,
    *,
    prepare: Prepare | None = None,
    init: Stream | None = None,
) -> tuple[torch.nn.Module, History]:
    """The spec's model for ``data`` (or ``model`` as given), its init seeded by ``init_seed``, trained with
    the spec's train overrides and seed (``build_and_fit``)."""
    train = spec.get("train", {})
    overrides = {"quiet": True, "eval_every": eval_every(data, train), **train, "seed": spec.get("seed", 0)}
    net, history = build_and_fit(
        spec["model"]["name"] if model is None else model,
        data,
        resolve_config(None, overrides),
        _model_keys(spec),
        init_seed=init_seed(spec, init),
        prepare=prepare,
    )
    net.cpu()  # fit trained it on its device (a GPU with device=cuda); the measures read the CPU data set
    return net, history


Measure = Callable[[torch.nn.Module, Dataset], Any]


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A measurement a spec may ask for: taken after training, and also at init when ``at_init``."""

    measure: Measure
    at_init: bool = False


def _cost(form: str) -> Measure:
    def measure_cost(model: torch.nn.Module, data: Dataset) -> Any:
        from depthlab.diagnose.cost import measure  # pulls in the profiler: only cost runs need it

        # ``deploy``: depthlab.deploy.deploy_form, the form the advisor times too
        return measure(model, data.input_shape, batch_size=64, form=form, time_budget=0.5, train=False)

    return measure_cost


def deploy_latency(model: torch.nn.Module, data: Dataset, rounds: int = 7) -> dict[str, list[float]]:
    """Inference latency (ms; batch 64, one thread) of the training form and the deploy form
    (``depthlab.deploy.deploy_form``), timed in alternating rounds, so their ratio is paired against the
    machine's drifting load (two separate timings read +0.4 [-0.1, +0.9] doublings for a 1.3x speed-up)."""
    from depthlab.deploy import deploy_form
    from depthlab.diagnose.timing import time_forward

    forms = {"train": copy.deepcopy(model).eval(), "deploy": deploy_form(model)}
    x = random_input(model, data.input_shape, 64, device=next(model.parameters()).device)
    times: dict[str, list[float]] = {form: [] for form in forms}
    for _ in range(rounds):
        for form, net in forms.items():
            times[form].append(time_forward(net, x, 0.1, threads=1).ms)
    return times


# The one table of diagnostics, by the name a spec uses.
DIAGNOSTICS: dict[str, Diagnostic] = {
    "grad_norms": Diagnostic(measures.layer_grad_norms, at_init=True),
    "act_grad_rms": Diagnostic(measures.activation_grad_norms, at_init=True),
    "block_grads": Diagnostic(measures.block_grad_norms, at_init=True),
    "probes": Diagnostic(measures.probe_accuracies, at_init=True),
    "pieces": Diagnostic(lambda model, data: measures.linear_pieces(model)),
    "response_std": Diagnostic(lambda model, data: measures.response_stds(model, data.x_test[:512])),
    "lesion": Diagnostic(measures.lesion_accuracies),
    "cost": Diagnostic(_cost("train")),
    "cost_deploy": Diagnostic(_cost("deploy")),
    "deploy_latency": Diagnostic(deploy_latency),
    "rank": Diagnostic(lambda model, data: block_residuals(model, data.x_val[:64]), at_init=True),
}


def diagnostic(name: str) -> Diagnostic:
    """The diagnostic ``name``; an unknown name raises DepthlabError with the valid ones."""
    if name not in DIAGNOSTICS:
        raise unknown("diagnostic", name, DIAGNOSTICS)
    return DIAGNOSTICS[name]


def divergence_site(spec: Mapping[str, Any], data: Dataset, step: int | None) -> dict[str, Any]:
    """Step and layer where a diverged run first went non-finite, from a deterministic replay (only diverged
    runs pay for it; see ``diagnose.nonfinite``)."""
    from depthlab.diagnose.nonfinite import locate_divergence

    train = {**spec.get("train", {}), "seed": spec.get("seed", 0)}
    found = locate_divergence(lambda: build_model(spec, data), data, train, step) if step else None
    found = found or {"step": step, "layer": None, "where": None}
    return {"diverged_step": found["step"], "diverged_layer": found["layer"], "diverged_in": found["where"]}


def train_task(spec: Mapping[str, Any]) -> TaskResult:
    """Train one model; diagnostics in ``spec["diagnostics"]`` are taken at init and after training."""
    data = dataset_for(spec)
    wanted = spec.get("diagnostics", [])
    diagnostics: dict[str, Any] = {}

    def measure_at_init(model: torch.nn.Module) -> None:
        at_init = [name for name in wanted if diagnostic(name).at_init]
        diagnostics.update({f"{name}_init": diagnostic(name).measure(model, data) for name in at_init})

    model, history = train_once(spec, data, prepare=measure_at_init)
    diagnostics |= {name: diagnostic(name).measure(model, data) for name in wanted}
    metrics = {
        **history.to_dict()["final"],
        "params": count_params(model)[0],
        "depth": int(getattr(model, "depth", 0)),
    }
    if history.status == "diverged":
        metrics |= divergence_site(spec, data, history.diverged_step)
    return TaskResult(history.status, metrics, history.to_dict(), diagnostics, history.wall_time)


def class_subset(data: Dataset, classes: list[int], train_size: int | None = None) -> Dataset:
    """The examples of ``classes`` only, relabelled 0..len(classes)-1; the training split cut to
    ``train_size``."""
    lookup = torch.full((data.num_classes,), -1, dtype=torch.long)
    lookup[torch.tensor(classes)] = torch.arange(len(classes))

    def pick(x: torch.Tensor, y: torch.Tensor, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        keep = lookup[y] >= 0
        return x[keep][:size], lookup[y[keep]][:size]

    splits = (
        pick(data.x_train, data.y_train, train_size)
        + pick(data.x_val, data.y_val)
        + pick(data.x_test, data.y_test)
    )
    return Dataset(f"{data.name}[{','.join(map(str, classes))}]", *splits, len(classes), data.task, data.meta)


def transfer_task(spec: Mapping[str, Any]) -> TaskResult:
    """Pretrain on classes A, copy the stem and the first ``transfer.layers`` blocks into a fresh net for
    classes B (frozen or fine-tuned), train on few B labels; ``layers = 0`` is the from-scratch control."""
    full = dataset_for(spec)
    half = full.num_classes // 2
    target = class_subset(full, list(range(half, 2 * half)), spec["transfer"]["train_size"])
    layers, frozen = spec["transfer"]["layers"], spec["transfer"]["frozen"]
    pretraining = [0.0]  # seconds

    def transfer_layers(model: torch.nn.Module) -> list[Callback]:
        if layers == 0:
            return []
        pretrained, pretraining[0] = pretrained_source(spec)
        return [KeepInEval(copy_prefix(pretrained, model, layers, frozen))]

    model, history = train_once(spec, target, prepare=transfer_layers, init=Stream.TRANSFER_INIT)
    metrics = {**history.to_dict()["final"], "params": count_params(model)[0]}
    return TaskResult(
        history.status, metrics, history.to_dict(), fit_seconds=pretraining[0] + history.wall_time
    )


def copy_prefix(
    source: torch.nn.Module, target: torch.nn.Module, layers: int, frozen: bool
) -> list[torch.nn.Module]:
    """Copy the stem and blocks[: layers - 1] from ``source`` to ``target``; freeze them if asked, and return
    the frozen ones (for ``KeepInEval``)."""
    parts = [(source.stem, target.stem)] + list(
        zip(source.blocks[: layers - 1], target.blocks[: layers - 1], strict=True)
    )
    for src, dst in parts:
        dst.load_state_dict(src.state_dict())
        if frozen:
            freeze(dst)
    return [dst for _, dst in parts] if frozen else []


def freeze(module: torch.nn.Module) -> None:
    """No gradients, and eval mode, so BatchNorm normalizes with the copied running statistics; ``fit`` keeps
    it in eval mode only with ``KeepInEval``."""
    module.requires_grad_(False)
    module.eval()


class KeepInEval(Callback):
    """Holds frozen modules in eval mode through ``fit``: each evaluation ends with ``model.train()``, which
    would otherwise switch their BatchNorm back to batch statistics and to updating the copied running ones.

    A study's choice, not a diagnostic: it changes training on purpose. Each evaluation is followed by
    ``on_epoch`` before the next step, so every training forward sees the frozen modules in eval mode.
    """

    def __init__(self, modules: list[torch.nn.Module]):
        self.modules = tuple(modules)

    def on_train_start(self, state: TrainState) -> None:
        self._hold()

    def on_epoch(self, state: TrainState) -> None:
        self._hold()

    def on_train_end(self, state: TrainState) -> None:
        self._hold()

    def _hold(self) -> None:
        for module in self.modules:
            module.eval()


_PRETRAINED: dict[str, torch.nn.Module] = {}  # per worker process; the source net of a seed, by its spec


def pretrained_source(spec: Mapping[str, Any]) -> tuple[torch.nn.Module, float]:
    """The net trained on the first half of the classes, and the seconds spent training it now (0 when a
    previous transfer setting of the same seed already trained it in this process: it is the same net)."""
    key = json.dumps({k: spec.get(k) for k in ("model", "data", "train", "seed")}, sort_keys=True)
    if key in _PRETRAINED:
        return _PRETRAINED[key], 0.0
    full = dataset_for(spec)
    source = class_subset(full, list(range(full.num_classes // 2)))
    pretrained, history = train_once(spec, source)
    _PRETRAINED.clear()  # one at a time is enough: a worker runs a seed's settings back to back
    _PRETRAINED[key] = pretrained
    return pretrained, history.wall_time


@torch.no_grad()
def set_tent_weights(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Make a width-2 ReLU MLP compute tent^(depth-1): each layer maps t to [relu(t), relu(t - 1/2)] and the
    next layer reads t = 2 a - 4 b (Telgarsky 2015, arXiv 1509.08101)."""
    layers = measures.ordered_weight_layers(model, x)
    layers[0].weight.copy_(torch.tensor([[1.0], [1.0]]))
    layers[0].bias.copy_(torch.tensor([0.0, -0.5]))
    for layer in layers[1:-1]:
        layer.weight.copy_(torch.tensor([[2.0, -4.0], [2.0, -4.0]]))
        layer.bias.copy_(torch.tensor([0.0, -0.5]))
    layers[-1].weight.copy_(torch.tensor([[2.0, -4.0]]))
    layers[-1].bias.zero_()


def construct_task(spec: Mapping[str, Any]) -> TaskResult:
    """The hand-built deep sawtooth net (no training): its test error and its linear pieces."""
    data = dataset_for(spec)
    model = build_model(spec, data)
    set_tent_weights(model, data.x_test[:1])
    model.eval()
    with torch.no_grad():
        mse = float(torch.nn.functional.mse_loss(model(data.x_test), data.y_test))
    metrics = {"test_loss": mse, "params": count_params(model)[0], "depth": model.depth}
    return TaskResult(metrics=metrics, diagnostics={"pieces": measures.linear_pieces(model)})


def optimum_task(spec: Mapping[str, Any]) -> TaskResult:
    """The least test MSE of any function with ``optimum.pieces`` linear pieces (``study.piecewise``): the
    best a shallow net with that piece budget can do, computed exactly, no training."""
    from depthlab.study.piecewise import best_piecewise_mse

    data = dataset_for(spec)
    pieces = spec["optimum"]["pieces"]
    mse = best_piecewise_mse(data.x_test.numpy(), data.y_test.numpy(), pieces)
    return TaskResult(metrics={"test_loss": mse}, diagnostics={"pieces": pieces})


def init_task(spec: Mapping[str, Any]) -> TaskResult:
    """Measure a freshly initialized model (no training): the diagnostics, stored under ``<name>_init``."""
    data = dataset_for(spec)
    model = build_model(spec, data)
    wanted = spec.get("diagnostics", [])
    diagnostics = {f"{name}_init": diagnostic(name).measure(model, data) for name in wanted}
    metrics = {"params": count_params(model)[0], "depth": int(getattr(model, "depth", 0))}
    return TaskResult(metrics=metrics, diagnostics=diagnostics)


def latency_task(spec: Mapping[str, Any]) -> TaskResult:
    """Inference latency of several shapes of one model, timed in interleaved rounds in one process (so the
    shapes' ratios are paired against the machine's drifting load); FLOPs and parameters of each.

    ``spec["latency"]``: ``shapes`` (label -> model overrides), ``batch_size`` (default 1), ``rounds``
    (default 5), ``budget`` (seconds of timed calls per timing, default 0.05; ``diagnose.timing``, which
    handles warm-up), on one thread.
    """
    from depthlab.diagnose.cost import count_flops
    from depthlab.diagnose.timing import time_forward

    data, options = dataset_for(spec), spec["latency"]
    batch = options.get("batch_size", 1)
    models = {
        label: build_model({**spec, "model": {**spec["model"], **shape}}, data).eval()
        for label, shape in options["shapes"].items()
    }
    x = random_input(next(iter(models.values())), data.input_shape, batch)
    times: dict[str, list[float]] = {label: [] for label in models}
    for _ in range(options.get("rounds", 5)):
        for label, model in models.items():
            # one thread: a batch of one cannot use more, and a second thread only adds scheduling noise
            times[label].append(time_forward(model, x, options.get("budget", 0.05), threads=1).ms)
    shapes = {
        label: {
            "latency_ms": times[label],
            "flops": count_flops(model, x) / batch,
            "params": count_params(model)[0],
        }
        for label, model in models.items()
    }
    return TaskResult(diagnostics={"latency": shapes})


TASKS: dict[str, Callable[[Mapping[str, Any]], TaskResult]] = {
    "train": train_task,
    "transfer": transfer_task,
    "construct": construct_task,
    "optimum": optimum_task,
    "init": init_task,
    "latency": latency_task,
}


def validate(spec: Mapping[str, Any]) -> None:
    """Raise DepthlabError now for a spec that would fail at once: an unknown task, data set, model, key or
    value."""
    from depthlab import config as cfg
    from depthlab.data import DATASETS
    from depthlab.models import model_config
    from depthlab.train import TrainConfig

    if spec.get("task", "train") not in TASKS:
        raise unknown("task", spec.get("task"), TASKS)
    if spec["data"]["name"] not in DATASETS:
        raise unknown("dataset", spec["data"]["name"], DATASETS)
    model_config(spec["model"]["name"], **{k: v for k, v in spec["model"].items() if k != "name"})
    cfg.build(TrainConfig, spec.get("train", {}))
    for name in spec.get("diagnostics", []):
        diagnostic(name)


def run_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one spec by its ``task`` (default ``train``); the one place a task's result becomes a row dict."""
    name = spec.get("task", "train")
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name](spec).as_row()
