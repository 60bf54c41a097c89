"""What the page may ask for: a setup as ``key=value`` in the CLI's own names, validated by the CLI's classes.

A setup is ``model`` and ``data`` plus overrides that ``depthlab train`` would accept (``depth=30``,
``activation=sigmoid``, ``lr=0.01``...). They are routed to the model config, the TrainConfig and the data
options exactly as the CLI routes them (``train.launch.route_overrides``) and built with
``depthlab.config.build``, so a bad value gets the CLI's one-line message. The caps below bound what a page
(or anything else that holds the token) can make this machine do.
"""

from __future__ import annotations

import shlex
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from depthlab import config as cfg
from depthlab.errors import DepthlabError, check, unknown
from depthlab.models.builder import FROM_DATA, TOKEN_KEYS
from depthlab.train.launch import check_reads_tokens, refuse_data_keys

CAPS = {
    "depth": 1024,  # layers (the slider goes to 256; typed values up to this)
    "width": 1024,
    "depth_x_width": 65536,  # e.g. depth 256 x width 256, or depth 1024 x width 64
    "batch_size": 4096,
    "steps": 200_000,  # the run's budget: a job ends there
    "num_samples": 20_000,  # examples a data set generates (MNIST-1D: 5000 by default, ~3 s; 20 000 ~12 s)
    "final_seq_length": 1024,  # MNIST-1D's sequence length (40 by default)
    "length": 1024,  # bit_parity / brackets tokens per sequence (attention costs length^2)
    "pairs": 256,  # recall's key-value pairs (a sequence is 2 pairs + 1 tokens)
    "keys": 1024,  # recall's key and value vocabularies (embedding rows)
    "values": 1024,
    "p": 128,  # mod_add's modulus: p^2 examples (16 384 at the cap)
    "block": 1024,  # chars: characters per sequence
    "mlp_ratio": 16,  # a transformer block's MLP is mlp_ratio x width wide
    "jobs": 4,  # concurrent jobs on the server (compare mode uses two)
}
PLAY_MODELS = ("mlp", "cnn1d", "resnet_cifar", "plain_cifar", "parnet_lite", "transformer")
TOY_DATA = ("circle", "xor2d", "gauss", "spiral2d")
SEQUENCE_DATA = ("recall", "bit_parity", "brackets", "mod_add", "chars")  # token ids: the transformer's
PLAY_DATA = (*TOY_DATA, "mnist1d", "digits", *SEQUENCE_DATA)
DATA_CAPS = ("num_samples", "final_seq_length", "length", "pairs", "keys", "values", "p", "block")
# Models whose blocks hold several weight layers of different shapes (q/k/v, out, fc1, fc2): their per-layer
# gradient line zigzags with the shapes, so the page also gets the gradient RMS of each block (``blocks.py``).
BLOCK_VIEW_MODELS = ("transformer",)
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
    refuse_token_keys(model_kw, data)
    if "checkpoint_dir" in train_kw:  # a path on this machine: the page writes no files (it exports them)
        raise DepthlabError(
            f"checkpoint_dir={train_kw['checkpoint_dir']!r}: not in play (export the weights instead)"
        )
    setup = Setup(model, data, model_kw, train_kw, data_kw, values, user_data if data == USER_DATA else None)
    check_caps(setup)
    return setup


def refuse_token_keys(model_kw: dict[str, Any], data: str) -> None:
    """``task`` and ``vocab_size`` say how a transformer reads its input, which only the data set knows: token
    data sets them, and on features a vocabulary would read floats as ids."""
    for key in TOKEN_KEYS:
        if key in model_kw:
            raise DepthlabError(f"{key}={model_kw[key]}: set by the data set ({data}); leave it out")


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
    """The model's config (validated by its own class) for ``data``'s input shape and classes; token data with
    a model that cannot read it is one message naming the models that can."""
    from depthlab.models import model_config as build_config

    sizing = data.model_kwargs()
    check_reads_tokens(setup.model, data, sizing)
    return build_config(setup.model, **(sizing | setup.model_kw))


def check_caps(setup: Setup) -> None:
    """Refuse a setup beyond the documented caps (CAPS), naming the value and the cap."""
    from depthlab.data.registry import DATASETS
    from depthlab.models.registry import MODELS
    from depthlab.train import TrainConfig

    entry = MODELS.get(setup.model)
    model = {
        k: _typed_value(entry.config_cls, setup.model_kw, k, entry.defaults)
        for k in ("depth", "width", "mlp_ratio")
    }
    train = {k: _typed_value(TrainConfig, setup.train_kw, k) for k in ("batch_size", "steps")}
    options = DATASETS.get(setup.data).options_cls if setup.data != USER_DATA else None
    data = {k: _typed_value(options, setup.data_kw, k) for k in DATA_CAPS}
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
        "sequences": list(SEQUENCE_DATA),
        "block_models": list(BLOCK_VIEW_MODELS),
        "model_choices": {m: literal_choices(MODELS.get(m).config_cls) for m in PLAY_MODELS},
        "user_data": Path(user_data.path).name if user_data else None,
        "activations": list(ACTIVATIONS),
        "norms": list(NORMS),
        "inits": [i for i in INITS if i != "normal"],
        "optimizers": list(cfg.field_types(TrainConfig)["optimizer"].__args__),
        "train_keys": list(cfg.field_types(TrainConfig)),
        "caps": dict(CAPS),
        "defaults": dict(PAGE_DEFAULTS),
    }


def literal_choices(cls: type) -> dict[str, list]:
    """The values each ``Literal`` field of ``cls`` takes (a transformer's ``norm`` is not an MLP's)."""
    return {
        k: list(typing.get_args(tp))
        for k, tp in cfg.field_types(cls).items()
        if typing.get_origin(tp) is Literal
    }


def model_defaults(model: str) -> dict[str, Any]:
    """A model's default dials (the page's starting values when it switches to that model)."""
    from depthlab.models import model_config as build_config

    values = cfg.as_dict(build_config(model))
    values = {k: v for k, v in values.items() if k not in FROM_DATA}
    if model == PAGE_DEFAULTS["model"]:
        values |= {k: PAGE_DEFAULTS[k] for k in ("depth", "width")}
    return values
