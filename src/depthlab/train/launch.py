"""Train a registered model on a registered data set from ``key=value`` strings (``depthlab train``).

Keys are routed to the model config, the TrainConfig or the data options (in that order of precedence); a
recipe supplies TrainConfig values first and the user's keys override them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from depthlab import atomic
from depthlab import config as cfg
from depthlab.defaults import DEFAULT_DATA
from depthlab.errors import DepthlabError
from depthlab.train.callbacks import Callback
from depthlab.train.config import TrainConfig
from depthlab.train.engine import fit
from depthlab.train.history import History
from depthlab.train.recipes import recipe as get_recipe

_FROM_DATA = ("input_shape", "num_classes")  # set by the data set, not by the user


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


def train_named(
    model_name: str,
    overrides: dict[str, Any],
    data_name: str | None = None,
    recipe_name: str | None = None,
    out: str | Path | None = None,
    quiet: bool = False,
    callbacks_for: Callable[[nn.Module], list[Callback]] | None = None,
) -> TrainedRun:
    """Build data, model and TrainConfig from names and ``key=value`` overrides; train; save in ``out``.
    ``callbacks_for(model)`` gives ``fit``'s callbacks for the model once built (a watch needs the model)."""
    from depthlab.data import load_dataset
    from depthlab.models import create_model

    recipe = get_recipe(recipe_name) if recipe_name else None
    data_name = data_name or (recipe.data if recipe and recipe.data else DEFAULT_DATA)
    model_keys, train_keys, data_keys = route_overrides(model_name, data_name, overrides)
    for key in _FROM_DATA:
        if key in model_keys:
            raise DepthlabError(f"{key}={model_keys[key]}: set by the data set ({data_name}); leave it out")
    train_values = {**(recipe.train if recipe else {}), "quiet": quiet, **train_keys}
    if out is not None:
        train_values.setdefault("checkpoint_dir", str(Path(out) / "checkpoints"))
    config = cfg.build(TrainConfig, train_values)
    data = load_dataset(data_name, **data_keys)
    torch.manual_seed(config.seed)  # the model's initialization follows the run's seed
    model = create_model(model_name, **{**data.model_kwargs(), **model_keys})
    history = fit(model, data, config, callbacks=callbacks_for(model) if callbacks_for else ())
    run = TrainedRun(
        model,
        history,
        config,
        getattr(model, "config", None),
        data_name,
        data.meta,
    )
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
