"""json_safe: what strict JSON cannot hold becomes what it can, at any depth, and nothing else changes."""

import json
import math

import numpy as np

from depthlab.json_safe import json_safe


def test_non_finite_numbers_become_null_at_any_depth_and_the_rest_is_kept():
    value = {"loss": math.nan, 3: [1.5, (math.inf, -math.inf)], "ok": {"x": np.float64(2.0), "s": "nan"}}
    safe = json_safe(value)
    assert safe == {"loss": None, "3": [1.5, [None, None]], "ok": {"x": 2.0, "s": "nan"}}
    assert json.loads(json.dumps(safe, allow_nan=False)) == safe  # strict JSON, and it reads back the same


def test_json_safe_is_what_history_and_the_advice_write():
    from depthlab.advise import advice as report
    from depthlab.train.history import History

    assert report.json_safe is json_safe  # the advice report's JSON
    history = History(final={"train_loss": math.inf}, curve=[(1, math.nan)]).to_dict()
    assert history["final"] == {"train_loss": None} and history["curve"] == [[1, None]]
