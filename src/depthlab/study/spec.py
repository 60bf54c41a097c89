"""Run specs: one plain dict per run, expanded from a declarative grid and keyed by a hash of its content.

A spec looks like ``{"task": "train", "model": {"name": "mlp", "depth": 8, ...}, "data": {"name": "mnist1d"},
"train": {"steps": 300, ...}, "diagnostics": [...], "seed": 0, "tags": {"depth": 8, "variant": "plain"}}``.
``tags`` are the grid coordinates the report groups by; they are labels, not configuration, so they are left
out of the hash and two studies that ask for the same run share one stored result.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

HASH_EXCLUDED = ("tags", "study")


def set_path(spec: dict[str, Any], dotted: str, value: Any) -> None:
    """``set_path(spec, "model.depth", 8)`` sets ``spec["model"]["depth"] = 8``, creating sections as
    needed."""
    *parents, leaf = dotted.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def apply(spec: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``spec`` with each dotted ``key: value`` of ``overrides`` set."""
    out = copy.deepcopy(spec)
    for key, value in overrides.items():
        set_path(out, key, value)
    return out


def _axis_points(name: str, values: Any) -> list[tuple[Any, dict[str, Any]]]:
    """An axis as (tag value, overrides) pairs: a dict axis maps labels to override dicts; a list sets
    ``name``."""
    if isinstance(values, Mapping):
        return [(label, dict(overrides)) for label, overrides in values.items()]
    return [(value, {name: value}) for value in values]


def expand(base: Mapping[str, Any], axes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the axes applied to ``base`` (the cartesian product, in axis order).

    An axis named with dots (``"model.depth": [2, 4]``) sets that path and is tagged by its last part
    (``depth``); a dict-valued axis (``"variant": {"plain": {...}, "residual": {...}}``) is tagged by its
    label.
    """
    names = list(axes)
    points = [_axis_points(name, axes[name]) for name in names]
    specs = []
    for combo in itertools.product(*points):
        overrides: dict[str, Any] = {}
        tags = dict(base.get("tags", {}))
        for name, (label, part) in zip(names, combo, strict=True):
            overrides.update(part)
            tags[name.rsplit(".", 1)[-1]] = label
        spec = apply(dict(base), overrides)
        spec["tags"] = {**spec.get("tags", {}), **tags}  # overrides may set extra labels as "tags.<name>"
        specs.append(spec)
    return specs


def canonical(spec: Mapping[str, Any]) -> str:
    """The spec as canonical JSON (sorted keys, no labels): equal configurations give equal strings."""
    content = {k: v for k, v in spec.items() if k not in HASH_EXCLUDED}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


def run_hash(spec: Mapping[str, Any]) -> str:
    """A 16-hex-digit key of the resolved configuration + seed (sha256 of the canonical JSON)."""
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def dedupe(specs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Specs with repeated hashes dropped (first kept), order preserved."""
    seen: set[str] = set()
    out = []
    for spec in specs:
        key = run_hash(spec)
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out
