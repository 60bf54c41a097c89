"""Build a named model for a data set and train it: the one path behind the CLI, play, the doctor, the studies
and the advisor (``build_for`` and ``build_and_fit``), and ``depthlab train``'s ``key=value`` front
(``train_named``).

Keys are routed to the model config, the TrainConfig or the data options (in that order of precedence); a
recipe supplies TrainConfig values first and the user's keys override them. The input shape and the number of
classes come from the data set, never from the user. The initial weights follow the seed given (the run's
seed unless a caller needs another), set right before the model is built, so the same name, keys and seed
give the same initial weights wherever the model is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from depthlab import atomic
from depthlab import config as cfg
from depthlab.data import Dataset
from depthlab.defaults import DEFAULT_DATA
from depthlab.errors import DepthlabError
from depthlab.models.builder import FROM_DATA, TOKEN_KEYS
from depthlab.train.callbacks import Callback
from depthlab.train.config import TrainConfig
from depthlab.train.engine import fit
from depthlab.train.history import History
from depthlab.train.recipes import recipe as get_recipe

Prepare = Callable[[nn.Module], Iterable[Callback] | None]


@dataclass
class TrainedRun:
    """What ``train_named`` produced."""

    model: nn.Module
    history: History
    config: TrainConfig
    model_config: Any
    data_name: str
    data_meta: dict[str, Any] = field(default_factory=dict)  # a user's file: its name, sha256, encodings


def route_overrides(model_name: str, data_name: str, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Split ``overrides`` into model, train and data options; an unknown key names every valid one."""
    from depthlab.data.registry import DATASETS
    from depthlab.models.registry import MODELS

    model_cls, data_cls = MODELS.get(model_name).config_cls, DATASETS.get(data_name).options_cls
    return cfg.split_overrides(overrides, model_cls, TrainConfig, data_cls)


def refuse_data_keys(model_keys: Mapping[str, Any], data_name: str) -> None:
    """The input shape and the classes come from the data set: a user's value for them is one error."""
    for key in FROM_DATA:
        if key in model_keys:
            raise DepthlabError(f"{key}={model_keys[key]}: set by the data set ({data_name}); leave it out")


def build_for(
    model: str, data: Dataset, model_keys: Mapping[str, Any] | None = None, seed: int = 0
) -> nn.Module:
    """Model ``model`` (a registered name or a builder ``file.py:fn``) for ``data``'s input shape and classes,
    with ``model_keys``; its initial weights follow ``seed``. A key the data set fixes is refused."""
    from depthlab.models import create_model

    keys = dict(model_keys or {})
    refuse_data_keys(keys, data.name)
    sizing = data.model_kwargs()
    check_reads_tokens(model, data, sizing)
    torch.manual_seed(seed)
    return create_model(model, **(sizing | keys))


def check_reads_tokens(model: str, data: Dataset, sizing: Mapping[str, Any]) -> None:
    """Token data (language modelling, a sequence task) needs a model with an embedding: one error naming
    the models that read it, instead of a dtype error deep inside the first layer."""
    from depthlab.models.registry import accepts, list_models

    needed = [key for key in TOKEN_KEYS if key in sizing]
    if needed and not all(accepts(model, key) for key in needed):
        readers = [name for name in list_models() if all(accepts(name, key) for key in needed)]
        what = "a language-modelling text" if data.task == "lm" else "token ids"
        can = ", ".join(readers)
        raise DepthlabError(
            f"model {model!r} cannot read data set {data.name!r} ({what}); models that can: {can}"
        )


def build_and_fit(
    model: str | nn.Module,
    data: Dataset,
    config: TrainConfig,
    model_keys: Mapping[str, Any] | None = None,
    *,
    callbacks: Iterable[Callback] = (),
    init_seed: int | None = None,
    prepare: Prepare | None = None,
) -> tuple[nn.Module, History]:
    """Build ``model`` for ``data`` (``build_for``, seeded by ``init_seed``, by default the run's seed; an
    nn.Module is trained as given) and ``fit`` it with ``config`` and ``callbacks``: the model, its History.

    ``prepare(net)`` sees the fresh model before training (to measure it at init, copy layers into it or
    watch it); the callbacks it returns join ``callbacks``.
    """
    seed = config.seed if init_seed is None else init_seed
    net = model if isinstance(model, nn.Module) else build_for(model, data, model_keys, seed)
    extra = list(prepare(net) or ()) if prepare is not None else []
    return net, fit(net, data, config, callbacks=[*callbacks, *extra])


def train_named(
    model_name: str,
    overrides: dict[str, Any],
    data_name: str | None = None,
    recipe_name: str | None = None,
    out: str | Path | None = None,
    quiet: bool = False,
    prepare: Prepare | None = None,
) -> TrainedRun:
    """Build data, model and TrainConfig from names and ``key=value`` overrides; train; save in ``out``.
    ``prepare(model)`` gives ``fit``'s callbacks for the model once built (a watch needs the model)."""
    from depthlab.data import load_dataset

    recipe = get_recipe(recipe_name) if recipe_name else None
    data_name = data_name or (recipe.data if recipe and recipe.data else DEFAULT_DATA)
    model_keys, train_keys, data_keys = route_overrides(model_name, data_name, overrides)
    train_values = {**(recipe.train if recipe else {}), "quiet": quiet, **train_keys}
    if out is not None:
        train_values.setdefault("checkpoint_dir", str(Path(out) / "checkpoints"))
    config = cfg.build(TrainConfig, train_values)
    data = load_dataset(data_name, **data_keys)
    model, history = build_and_fit(model_name, data, config, model_keys, prepare=prepare)
    run = TrainedRun(model, history, config, getattr(model, "config", None), data_name, data.meta)
    if out is not None:
        write_results(run, Path(out), model_name)
    return run


def write_results(run: TrainedRun, out: Path, model_name: str) -> None:
    """``out/result.json``: model, data, both configs and the history."""
    from depthlab.models import builder_source_hash

    out.mkdir(parents=True, exist_ok=True)
    model_config = cfg.as_dict(run.model_config) if run.model_config is not None else None
    result = {
        "model": model_name,
        "model_config": model_config,
        "data": run.data_name,
        "data_meta": run.data_meta,
        "model_source_sha256": builder_source_hash(model_name),  # a builder file's hash; None for depthlab's
        "train_config": cfg.as_dict(run.config),
        "history": run.history.to_dict(),
    }
    atomic.write_text(out / "result.json", json.dumps(result, indent=2))
