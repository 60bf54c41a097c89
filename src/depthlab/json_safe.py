"""Values JSON can hold: strict JSON has no NaN or infinity, so every report and history depthlab writes as
JSON passes through :func:`json_safe` first (a diverged run's loss is a result, stored as null)."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None, tuples as lists and dict keys as strings, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
