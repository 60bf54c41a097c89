"""timm's spellings of model options, accepted where timm users type them.

``create_model(name, in_chans=1)`` on an image model (``input_shape`` is (C, H, W)) sets the channel count of
its ``input_shape``, keeping height and width: timm's way of asking for grey-scale input. ``num_classes`` is
already timm's name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from depthlab import config as cfg
from depthlab.errors import DepthlabError


def from_timm_names(config_cls: type, defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with ``in_chans`` folded into ``input_shape`` (as they are without ``in_chans``)."""
    if "in_chans" not in overrides or "in_chans" in cfg.field_types(config_cls):
        return overrides
    rest = {k: v for k, v in overrides.items() if k != "in_chans"}
    channels = cfg.coerce("in_chans", overrides["in_chans"], int)
    shape = _input_shape(config_cls, defaults, rest)
    if shape is None or len(shape) != 3:
        raise DepthlabError(
            f"in_chans={channels}: only image models (input_shape C,H,W) take in_chans; "
            f"this one has input_shape={shape}: pass input_shape instead"
        )
    if "input_shape" in rest and shape[0] != channels:
        raise DepthlabError(f"in_chans={channels} contradicts input_shape={shape}: pass one of them")
    return {**rest, "input_shape": (channels, *shape[1:])}


def _input_shape(config_cls: type, defaults: dict[str, Any], overrides: dict[str, Any]) -> tuple | None:
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if "input_shape" not in fields:
        return None
    value = overrides.get("input_shape", defaults.get("input_shape", fields["input_shape"].default))
    return None if value is dataclasses.MISSING else tuple(cfg.coerce("input_shape", value, tuple[int, ...]))
