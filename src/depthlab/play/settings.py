"""What the page may ask for: a setup as ``key=value`` in the CLI's own names, validated by the CLI's classes.

A setup is ``model`` and ``data`` plus overrides that ``depthlab train`` would accept (``depth=30``,
``activation=sigmoid``, ``lr=0.01``...). They are routed to the model config, the TrainConfig and the data
options exactly as the CLI routes them (``train.launch.route_overrides``) and built with
``depthlab.config.build``, so a bad value gets the CLI's one-line message. The caps below bound what a page
(or anything else that holds the token) can make this machine do.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depthlab import config as cfg
from depthlab.errors import DepthlabError, check, unknown
from depthlab.models.builder import FROM_DATA
from depthlab.train.launch import refuse_data_keys

CAPS = {
    "depth": 1024,  # layers (the slider goes to 256; typed values up to this)
    "width": 1024,
    "depth_x_width": 65536,  # e.g. depth 256 x width 256, or depth 1024 x width 64
    "batch_size": 4096,
    "steps": 200_000,  # the run's budget: a job ends there
    "num_samples": 20_000,  # examples a data set generates (MNIST-1D: 5000 by default, ~3 s; 20 000 ~12 s)
    "final_seq_length": 1024,  # MNIST-1D's sequence length (40 by default)
    "jobs": 4,  # concurrent jobs on the server (compare mode uses two)
}
PLAY_MODELS = ("mlp", "cnn1d", "resnet_cifar", "plain_cifar", "parnet_lite")
TOY_DATA = ("circle", "xor2d", "gauss", "spiral2d")
PLAY_DATA = (*TOY_DATA, "mnist1d", "digits")
USER_DATA = "user"  # the file given to ``depthlab play --data PATH --target COL``
DEFAULT_STEPS = 20_000
# defaults the page starts from (anything else keeps the library's defaults)
PAGE_DEFAULTS = {"model": "mlp", "data": "mnist1d", "depth": 8, "width": 64, "lr": 0.001}


@dataclass(frozen=True)
class UserData:
    """The user's own file, named on the command line (the page can pick it, never name another path)."""

    path: str
    target: str | None = None

    def load(self, seed: int):
        from depthlab.data import load_dataset

        kwargs = {"target": self.target} if self.target else {}
        return load_dataset(self.path, seed=seed, **kwargs)


@dataclass
class Setup:
    """One validated setup: names, the three routed override dicts, and the values as the user gave them."""

    model: str
    data: str
    model_kw: dict[str, Any]
    train_kw: dict[str, Any]
    data_kw: dict[str, Any]
    values: dict[str, str] = field(default_factory=dict)  # the overrides as given (strings), for display
    user_data: UserData | None = None

    def command(self) -> str:
        """The same run as a ``depthlab train`` command line (the page's "copy as command")."""
        parts = ["depthlab", "train", self.model]
        parts += [f"{k}={v}" for k, v in self.values.items()]
        if self.data == USER_DATA and self.user_data is not None:
            parts += ["--data", self.user_data.path]
            if self.user_data.target:
                parts += ["--target", self.user_data.target]
        else:
            parts += ["--data", self.data]
        return " ".join(shlex.quote(p) for p in parts)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def parse_setup(raw: dict[str, Any], user_data: UserData | None = None) -> Setup:
    """Validate a setup from the page (strings or JSON values); DepthlabError names the bad key or value."""
    if not isinstance(raw, dict):
        raise DepthlabError("settings: expected a JSON object of key=value pairs")
    values = {str(k): _as_text(v) for k, v in raw.items() if v is not None and _as_text(v) != ""}
    model = values.pop("model", PAGE_DEFAULTS["model"])
    data = values.pop("data", PAGE_DEFAULTS["data"])
    if model not in PLAY_MODELS:
        raise unknown("model", model, PLAY_MODELS)
    choices = PLAY_DATA + ((USER_DATA,) if user_data else ())
    if data not in choices:
        raise unknown("data set", data, choices)
    model_kw, train_kw, data_kw = _route(model, data, values)
    refuse_data_keys(model_kw, data)
    if "checkpoint_dir" in train_kw:  # a path on this machine: the page writes no files (it exports them)
        raise DepthlabError(
            f"checkpoint_dir={train_kw['checkpoint_dir']!r}: not in play (export the weights instead)"
        )
    setup = Setup(model, data, model_kw, train_kw, data_kw, values, user_data if data == USER_DATA else None)
    check_caps(setup)
    return setup


def _route(model: str, data: str, values: dict[str, str]) -> list[dict[str, Any]]:
    from depthlab.data.registry import DATASETS
    from depthlab.models.registry import MODELS
    from depthlab.train import TrainConfig

    classes = [MODELS.get(model).config_cls, TrainConfig]
    if data != USER_DATA:
        classes.append(DATASETS.get(data).options_cls)
    parts = cfg.split_overrides(values, *classes)
    return parts if len(parts) == 3 else [*parts, {}]


def train_config(setup: Setup):
    """The TrainConfig of a setup: the CLI's class and checks; quiet, and the play budget unless given."""
    from depthlab.train import TrainConfig

    return cfg.build(TrainConfig, {"quiet": True, "steps": DEFAULT_STEPS, **setup.train_kw})


def model_config(setup: Setup, data) -> Any:
    """The model's config (validated by its own class) for ``data``'s input shape and classes."""
    from depthlab.models import model_config as build_config

    return build_config(setup.model, **(data.model_kwargs() | setup.model_kw))


def check_caps(setup: Setup) -> None:
    """Refuse a setup beyond the documented caps (CAPS), naming the value and the cap."""
    from depthlab.data.registry import DATASETS
    from depthlab.models.registry import MODELS
    from depthlab.train import TrainConfig

    entry = MODELS.get(setup.model)
    model = {k: _typed_value(entry.config_cls, setup.model_kw, k, entry.defaults) for k in ("depth", "width")}
    train = {k: _typed_value(TrainConfig, setup.train_kw, k) for k in ("batch_size", "steps")}
    options = DATASETS.get(setup.data).options_cls if setup.data != USER_DATA else None
    data = {k: _typed_value(options, setup.data_kw, k) for k in ("num_samples", "final_seq_length")}
    for key, value in (model | train | data).items():
        if value is not None:  # steps none: the budget is `epochs`; a data set without the option
            check(value <= CAPS[key], f"{key}={value}: above the play cap of {CAPS[key]}")
    check(
        model["depth"] * model["width"] <= CAPS["depth_x_width"],
        f"depth x width = {model['depth']} x {model['width']}: above the play cap of {CAPS['depth_x_width']}",
    )


def _typed_value(cls: type | None, given: dict[str, Any], key: str, defaults: dict | None = None) -> Any:
    """``given[key]`` coerced to ``cls``'s field type (the CLI's coercer: its message for a bad value), else
    the default the run would use (``defaults``, then the class's own); None where ``cls`` has no ``key``."""
    if key in given:
        return cfg.coerce(key, given[key], cfg.field_types(cls)[key])
    return (defaults or {}).get(key, getattr(cls, key, None))


def choices(user_data: UserData | None = None) -> dict[str, Any]:
    """What the page offers: models with the keys each accepts, data sets, layer names, caps, defaults."""
    from depthlab.data.registry import DATASETS
    from depthlab.models.layers import ACTIVATIONS, INITS, NORMS
    from depthlab.models.registry import MODELS
    from depthlab.train.config import TrainConfig

    data = list(PLAY_DATA) + ([USER_DATA] if user_data else [])
    return {
        "models": {m: list(cfg.field_types(MODELS.get(m).config_cls)) for m in PLAY_MODELS},
        "model_defaults": {m: model_defaults(m) for m in PLAY_MODELS},
        "data": {
            d: list(cfg.field_types(DATASETS.get(d).options_cls)) if d != USER_DATA else [] for d in data
        },
        "toys": list(TOY_DATA),
        "user_data": Path(user_data.path).name if user_data else None,
        "activations": list(ACTIVATIONS),
        "norms": list(NORMS),
        "inits": [i for i in INITS if i != "normal"],
        "optimizers": list(cfg.field_types(TrainConfig)["optimizer"].__args__),
        "train_keys": list(cfg.field_types(TrainConfig)),
        "caps": dict(CAPS),
        "defaults": dict(PAGE_DEFAULTS),
    }


def model_defaults(model: str) -> dict[str, Any]:
    """A model's default dials (the page's starting values when it switches to that model)."""
    from depthlab.models import model_config as build_config

    values = cfg.as_dict(build_config(model))
    values = {k: v for k, v in values.items() if k not in FROM_DATA}
    if model == PAGE_DEFAULTS["model"]:
        values |= {k: PAGE_DEFAULTS[k] for k in ("depth", "width")}
    return values
