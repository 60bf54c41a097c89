"""The model registry: ``create_model(name, **overrides)`` and ``list_models(pattern)`` (timm's names).

Each entry pairs a dataclass config (first fields ``depth`` and ``width``) with the class it builds, so a
model is fully described by ``(name, config dict)`` and a study grid is a list of dicts.

A name may also be a builder in the user's code, ``path/to/file.py:build`` or ``package.module:build``
(``depthlab.models.builder``), and ``@register_model`` on a builder function registers it timm-style.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from depthlab import config as cfg
from depthlab.models.timm_names import from_timm_names
from depthlab.registry import Registry


@dataclass(frozen=True)
class ModelEntry:
    config_cls: type
    build: Callable[[Any], nn.Module]
    defaults: dict[str, Any]
    ignores: tuple[str, ...] = ()  # keys every caller passes (input_shape, num_classes) a builder may lack
    source: Callable | None = None  # a user's builder function (its file is what studies key runs on)


class ModelRegistry(Registry[ModelEntry]):
    """The registry, plus builder references: ``get("nets.py:build")`` imports that builder."""

    def get(self, name: str) -> ModelEntry:
        from depthlab.models.builder import is_reference, load_builder

        if name not in self._items and is_reference(name):
            return _builder_entry(load_builder(name), name)
        return super().get(name)


def _builder_entry(fn: Callable, label: str) -> ModelEntry:
    """A user's builder as an entry: its signature is the config (see ``depthlab.models.builder``)."""
    from depthlab.models.builder import builder_parts

    config_cls, build, ignores = builder_parts(fn, label)
    return ModelEntry(config_cls, build, {}, ignores, fn)


def builder_source_hash(name: str) -> str | None:
    """sha256 (16 hex digits) of the file defining a builder reference or a ``@register_model`` builder,
    which studies key runs on; None for depthlab's own models (their code is versioned with depthlab)."""
    from depthlab.models.builder import is_reference, source_hash

    return source_hash(name, None if is_reference(name) else MODELS.get(name).source)


MODELS = ModelRegistry("model")


def register_model(name: str | Callable | None = None, config_cls: type | None = None, **defaults: Any):
    """Decorator: register a model class (or a factory taking the config) under ``name`` with defaults.

    timm-style, ``@register_model`` (or ``@register_model("name")``) on a builder ``build(depth, **kwargs)``
    registers it under the function's name: its signature is its config (see ``depthlab.models.builder``).
    """
    if callable(name):
        return register_model()(name)

    def decorator(build: Callable[[Any], nn.Module]):
        if config_cls is None:
            MODELS.register(name or build.__name__, _builder_entry(build, name or build.__name__))
        else:
            MODELS.register(name, ModelEntry(config_cls, build, defaults))
        return build

    return decorator


def model_config(name: str, **overrides: Any):
    """The resolved config of model ``name`` with ``overrides`` (strings are coerced by field type)."""
    return _config(MODELS.get(name), overrides)


def _config(entry: ModelEntry, overrides: dict[str, Any]):
    overrides = from_timm_names(entry.config_cls, entry.defaults, overrides)
    kept = {k: v for k, v in overrides.items() if k not in entry.ignores}
    return cfg.build(entry.config_cls, kept, **entry.defaults)


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build model ``name`` (or a builder ``file.py:fn`` / ``pkg.module:fn``); bad names, keys and values
    raise DepthlabError."""
    entry = MODELS.get(name)
    return entry.build(_config(entry, overrides))


def accepts(name: str, key: str) -> bool:
    """Whether model ``name`` takes the option ``key`` (a builder takes the data's keys it lacks and drops
    them, see ``depthlab.models.builder``)."""
    entry = MODELS.get(name)
    return key in {f.name for f in dataclasses.fields(entry.config_cls)} or key in entry.ignores


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell pattern."""
    return MODELS.names(pattern)
