"""The doctor's live verdicts on a running job, in the doctor's own words and format, with one-click remedies.

``depthlab.diagnose.diagnose(w, model_config)`` reads a watch's records without retraining and returns
``Verdict`` objects (``check``, ``status``, ``message``, ``remedy`` as overrides, ``line()``). Older doctors
return ``flagged``/``remedy`` text; both are turned into the same JSON here, and a remedy's ``key=value``
overrides become buttons only when the model takes that key and does not already have that value.
"""

from __future__ import annotations

import math
import re
from typing import Any

from depthlab.diagnose.watch import Watch

_OVERRIDE = re.compile(r"\b([a-z_]+)=([A-Za-z0-9_.\-]+)")


def live_verdicts(
    w: Watch, model_config: dict[str, Any], current: dict[str, Any], valid_keys: set[str]
) -> list[dict[str, Any]]:
    """Every doctor check on the watch's records so far, problems first; ``current`` holds every setting in
    force (model and training), so a remedy already applied is not offered again."""
    from depthlab import diagnose as doctor

    if hasattr(doctor, "diagnose"):
        found = doctor.diagnose(w, model_config)
    else:  # a doctor without the live entry point: its checks on the table
        found = doctor.verdicts(w.rows)
    out = [as_json(v, current, valid_keys) for v in found]
    return sorted(out, key=lambda v: v["status"] != "PROBLEM")


def as_json(verdict: Any, current: dict[str, Any], valid_keys: set[str]) -> dict[str, Any]:
    """A Verdict as the page shows it: status, check, its line() text, and the applicable remedies."""
    status = getattr(verdict, "status", None) or ("PROBLEM" if getattr(verdict, "flagged", False) else "ok")
    remedy = getattr(verdict, "remedy", {})
    overrides = dict(remedy) if isinstance(remedy, dict) else dict(_OVERRIDE.findall(str(remedy)))
    applicable = {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in overrides.items()
        if k in valid_keys and _differs(current.get(k), v)
    }
    return {
        "check": verdict.check,
        "status": status,
        "line": verdict.line(),
        "remedy": applicable if status == "PROBLEM" else {},
    }


def _differs(current: Any, proposed: Any) -> bool:
    if isinstance(current, bool):
        return str(current).lower() != str(proposed).lower()
    if isinstance(current, float) and not math.isnan(current):
        try:
            return float(proposed) != current
        except ValueError:
            return True
    return str(current) != str(proposed)
