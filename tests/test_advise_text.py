"""The advisor on a user's text file (``--model transformer --data my.txt``): depths ranked by validation bits
per character, lower is better, with no linear or tree baseline (they read features, not token ids)."""

import json
import math

import pytest

import depthlab
from depthlab.advise.advice import answer
from depthlab.advise.config import BPC, metric_for


def test_bits_per_character_is_the_score_lower_is_better():
    assert metric_for("lm", {}) is BPC and BPC.label == "bits/char"
    assert BPC.score({"val_bpc": 3.25}) == -3.25 and BPC.score({}) is None
    assert BPC.shown_interval(-3.0, -3.5, -2.5) == (3.0, 2.5, 3.5)  # a higher score is fewer bits


@pytest.fixture(scope="module")
def advice(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    text = folder / "words.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 500)
    options = {"model_options": {"width": 16, "heads": 2}, "data_options": {"block": 32, "chunk": 200}}
    out = folder / "out"
    return depthlab.advise(
        str(text), "transformer", depths=(1, 2), steps=40, out=str(out), quiet=True, **options
    ), out


def test_a_transformer_on_a_text_file_is_advised_by_bits_per_character(advice):
    result, out = advice
    saved = json.loads((out / "advice.json").read_text())
    assert saved["metric"] == "bpc" and saved["baselines"] == [] and saved["baseline_verdict"] is None
    measured = [c["bpc"] for c in saved["candidates"] if c["bpc"] is not None]
    # bits per character of a 40-step model: above zero, below a uniform guess over the 28 characters + UNK
    assert measured and all(0 < m["mean"] < math.log2(29) for m in measured)
    assert all(m["low"] <= m["mean"] <= m["high"] for m in measured)
    assert "validation bits/char" in answer(result)
