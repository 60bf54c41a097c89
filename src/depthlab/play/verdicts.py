"""The doctor's live verdicts on a running job, in the doctor's own words and format, with one-click remedies.

``depthlab.diagnose.diagnose(w, model_config)`` reads a watch's records without retraining and returns
``Verdict`` objects (``check``, ``status``, ``message``, ``remedy`` as overrides, ``line()``). A remedy's
overrides become buttons only when the model or the trainer takes that key and does not have that value yet.
"""

from __future__ import annotations

from typing import Any

from depthlab import config as cfg
from depthlab.diagnose import Verdict, diagnose
from depthlab.diagnose.verdict import PROBLEM, format_value
from depthlab.diagnose.watch import Watch


class LiveDoctor:
    """The doctor for one job: its settings in force and the keys a remedy may name (the model's dials and the
    trainer's, not the ones the data set fixes)."""

    def __init__(self, model_config: Any, train_config: Any) -> None:
        self._model = cfg.as_dict(model_config)
        self._current = self._model | cfg.as_dict(train_config)
        model_keys = set(cfg.field_types(type(model_config))) - {"input_shape", "num_classes"}
        self._valid_keys = model_keys | set(cfg.field_types(type(train_config)))

    def verdicts(self, w: Watch) -> list[dict[str, Any]]:
        """Every check on the watch's records so far, as the page shows them."""
        return live_verdicts(w, self._model, self._current, self._valid_keys)


def live_verdicts(
    w: Watch, model_config: dict[str, Any], current: dict[str, Any], valid_keys: set[str]
) -> list[dict[str, Any]]:
    """Every doctor check on the watch's records so far, problems first; ``current`` holds every setting in
    force (model and training), so a remedy already applied is not offered again."""
    found = [as_json(v, current, valid_keys) for v in diagnose(w, model_config)]
    return sorted(found, key=lambda v: v["status"] != PROBLEM)


def as_json(verdict: Verdict, current: dict[str, Any], valid_keys: set[str]) -> dict[str, Any]:
    """A Verdict as the page shows it: status, check, its line() text, and the applicable remedies."""
    remedy = {k: format_value(v) for k, v in verdict.remedy.items()}
    applicable = {k: v for k, v in remedy.items() if k in valid_keys and format_value(current.get(k)) != v}
    return {
        "check": verdict.check,
        "status": verdict.status,
        "line": verdict.line(),
        "remedy": applicable if verdict.status == PROBLEM else {},
    }
