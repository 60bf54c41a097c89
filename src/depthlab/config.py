"""Typed ``key=value`` overrides for dataclass configs (the CLI's and the study grids' common language).

A value is coerced to the field's annotated type: int, float, bool, str, ``Literal[...]`` (choices), tuples of
those, and ``X | None`` (``none`` or ``null`` gives None). Unknown keys and bad values raise DepthlabError
naming the key, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

from depthlab.errors import DepthlabError, unknown

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def field_types(cls: type) -> dict[str, Any]:
    """Resolved type hints of a dataclass's init fields, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` (often a string from the command line) to type ``tp`` or raise DepthlabError."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(key, value, arg)
            except DepthlabError as err:
                errors.append(str(err))
        raise DepthlabError(errors[0] if errors else f"{key}={value!r}: not allowed")
    if origin is Literal:
        choices = [str(a) for a in args]
        if str(value) not in choices:
            raise unknown(f"value for {key}", value, choices)
        return args[choices.index(str(value))]
    if origin in (tuple, list):
        if not isinstance(value, (str, tuple, list)):
            raise DepthlabError(f"{key}={value!r}: expected a comma-separated list")
        items = value.split(",") if isinstance(value, str) else list(value)
        inner = args[0] if args else str
        items = [coerce(key, v.strip() if isinstance(v, str) else v, inner) for v in items if v != ""]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise DepthlabError(f"{key}={value!r}: expected a boolean (true/false)")
    if tp in (int, float):
        if isinstance(value, bool):
            raise DepthlabError(f"{key}={value!r}: expected {tp.__name__}, got a boolean")
        try:
            number = float(value) if tp is float else _to_int(value)
        except (TypeError, ValueError):
            raise DepthlabError(f"{key}={value!r}: expected {tp.__name__}") from None
        return number
    if tp is str:
        if not isinstance(value, str):
            raise DepthlabError(f"{key}={value!r}: expected a string")
        return value
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        as_float = float(value)  # accepts "1e3"; a ValueError here is reported by the caller
        if not as_float.is_integer():
            raise ValueError(value) from None
        return int(as_float)


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["depth=8", "lr=0.1"]`` -> ``{"depth": "8", "lr": "0.1"}``; a pair without '=' is an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DepthlabError(f"expected key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def build(cls: type, overrides: Mapping[str, Any] | None = None, **defaults: Any):
    """Instantiate dataclass ``cls`` from ``defaults`` updated by ``overrides``, coercing each value."""
    types_ = field_types(cls)
    values = {**defaults, **(overrides or {})}
    for key in values:
        if key not in types_:
            raise unknown(f"option for {cls.__name__}", key, types_)
    kwargs = {k: coerce(k, v, types_[k]) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:  # e.g. a missing required field
        raise DepthlabError(f"{cls.__name__}: {err}") from None


def split_overrides(overrides: Mapping[str, Any], *classes: type) -> list[dict[str, Any]]:
    """Route each key to the first dataclass that has it; a key no class has raises with every valid key."""
    parts: list[dict[str, Any]] = [{} for _ in classes]
    owners = [set(field_types(c)) for c in classes]
    for key, value in overrides.items():
        for part, fields in zip(parts, owners, strict=True):
            if key in fields:
                part[key] = value
                break
        else:
            raise unknown("option", key, set().union(*owners))
    return parts


def as_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain JSON-friendly dict (tuples become lists)."""
    return dataclasses.asdict(config)
