"""The model registry: ``create_model(name, **overrides)`` and ``list_models(pattern)`` (timm's names).

Each entry pairs a dataclass config (first fields ``depth`` and ``width``) with the class it builds, so a
model is fully described by ``(name, config dict)`` and a study grid is a list of dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from depthlab import config as cfg
from depthlab.registry import Registry


@dataclass(frozen=True)
class ModelEntry:
    config_cls: type
    build: Callable[[Any], nn.Module]
    defaults: dict[str, Any]


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str, config_cls: type, **defaults: Any):
    """Decorator: register a model class (or a factory taking the config) under ``name`` with defaults."""

    def decorator(build: Callable[[Any], nn.Module]):
        MODELS.register(name, ModelEntry(config_cls, build, defaults))
        return build

    return decorator


def model_config(name: str, **overrides: Any):
    """The resolved config of model ``name`` with ``overrides`` (strings are coerced by field type)."""
    entry = MODELS.get(name)
    return cfg.build(entry.config_cls, overrides, **entry.defaults)


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build model ``name``; unknown names, keys and bad values raise DepthlabError."""
    return MODELS.get(name).build(model_config(name, **overrides))


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell pattern."""
    return MODELS.names(pattern)
