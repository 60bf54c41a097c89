"""The advisor end to end on a tiny problem: the JSON contract, the one-SE choice, the latency filter, bad
inputs (one clear line each)."""

import json
import math

import pytest

import depthlab
from depthlab import stats
from depthlab.advise import advisor as advisor_module
from depthlab.advise.config import parse_budget
from depthlab.cli import main
from depthlab.errors import DepthlabError

TINY = {
    "model_options": {"width": 8},
    "depths": (1, 2, 3),
    "steps": 60,
    "seeds": 3,
    "finalists": 2,
    "probe_steps": 2,
    "train": {"lr": 0.01, "batch_size": 64},
    "quiet": True,
}


def fake_latency(model, input_shape, batch, **_):
    """Latency = the number of Linear layers in ms: deterministic, so the filter is testable exactly."""
    return float(sum(1 for m in model.modules() if type(m).__name__ == "Linear")), "train"


@pytest.fixture(scope="module")
def advice(tmp_path_factory):
    out = tmp_path_factory.mktemp("advice")
    result = depthlab.advise("spirals", "mlp", out=str(out), **TINY)
    return result, json.loads((out / "advice.json").read_text()), (out / "advice.html").read_text()


def test_json_has_the_contract_fields(advice):
    _, data, _ = advice
    for key in ("recommended_depth", "interval", "candidates", "steps_used", "steps_grid"):
        assert key in data
    assert [c["depth"] for c in data["candidates"]] == [1, 2, 3]
    for c in data["candidates"]:
        assert {"accuracy", "latency_ms", "pruned_at_step", "status"} <= set(c)
        assert c["latency_ms"] > 0
        if c["accuracy"] is not None:
            assert c["accuracy"]["low"] <= c["accuracy"]["mean"] <= c["accuracy"]["high"]
    assert data["steps_grid"] == 3 * 3 * 60  # depths x seeds x full budget


def test_pruned_and_finalist_statuses_follow_the_halving(advice):
    _, data, _ = advice
    by_status = {}
    for c in data["candidates"]:
        by_status.setdefault(c["status"], []).append(c)
    assert data["rungs"] == [20]  # 60 / eta
    assert len(by_status.get("pruned", [])) == 1  # 3 depths, 2 finalists: one is cut
    cut = by_status["pruned"][0]
    if cut["pruned_at_step"] == 60:  # kept by the rung (3 may survive it), cut on one full-budget seed
        assert cut["seeds"] == 1 and cut["predicted"]["family"] == "one seed" and cut["measured"] is None
        assert cut["predicted"]["mean"] == cut["val_acc_per_seed"][0]
    else:  # ruled out at the rung: its interval's top was below another depth's bottom
        assert cut["pruned_at_step"] == 20 and cut["seeds"] == 0
    trained = by_status.get("finalist", []) + by_status["chosen"]
    assert len(trained) == 2 and all(c["seeds"] == 3 for c in trained)


def test_recommendation_is_the_one_se_choice_over_the_finalists(advice):
    _, data, _ = advice
    scores = {c["depth"]: c["val_acc_per_seed"] for c in data["candidates"] if c["val_acc_per_seed"]}
    oracle = stats.one_se_rule(scores)
    assert data["recommended_depth"] == oracle.chosen
    means = {d: sum(v) / len(v) for d, v in scores.items()}
    inside = [d for d, m in means.items() if m >= oracle.best_mean - oracle.best_se]
    assert (data["interval"]["low"], data["interval"]["high"]) == (min(inside), max(inside))
    measured = next(c for c in data["candidates"] if c["depth"] == oracle.chosen)["measured"]
    half = stats.paired_t(scores[oracle.chosen])
    assert measured["low"] == pytest.approx(half.low) and measured["high"] == pytest.approx(half.high)


def test_steps_used_adds_up_every_piece(advice):
    result, data, _ = advice
    probes = sum(c.probe["steps"] for c in result.candidates if c.probe)
    finals = sum(r["steps"] for c in result.candidates for r in c.runs)  # a cut depth's one seed included
    rungs = 3 * data["rungs"][0]
    continued = sum(c.rung_run["steps"] for c in result.candidates if c.runs)  # seed 0 went on from its rung
    assert continued > 0 and data["steps_used"] == probes + rungs + finals - continued


def test_html_is_self_contained_with_a_csp(advice):
    _, _, html = advice
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html
    assert "recommended depth:" in html


def test_latency_budget_filters_depths_before_training(monkeypatch, tmp_path):
    monkeypatch.setattr(advisor_module, "latency_ms", fake_latency)
    result = depthlab.advise("spirals", "mlp", out=str(tmp_path), latency_ms=2.5, **{**TINY, "finalists": 1})
    by_depth = {c.depth: c for c in result.candidates}
    assert by_depth[3].status == "over latency" and by_depth[3].probe is None and not by_depth[3].runs
    assert result.recommended.depth in (1, 2) and result.recommended.latency_ms <= 2.5


def test_an_impossible_latency_budget_names_the_fastest_depth(monkeypatch, tmp_path):
    monkeypatch.setattr(advisor_module, "latency_ms", fake_latency)
    with pytest.raises(DepthlabError, match=r"impossible.*fastest depth, 1, takes 1 ms"):
        depthlab.advise("spirals", "mlp", out=str(tmp_path), latency_ms=0.5, **TINY)


def test_a_budget_smaller_than_the_probes_is_refused_before_training(tmp_path):
    with pytest.raises(DepthlabError, match=r"too small for even the probes: 3 depths x 2 probe steps = 6"):
        depthlab.advise("spirals", "mlp", out=str(tmp_path), budget=5, **TINY)
    assert not (tmp_path / "advice.json").exists()


def test_a_budget_between_probes_and_plan_shrinks_the_runs_or_says_what_it_needs(tmp_path):
    with pytest.raises(DepthlabError, match=r"budget of 100 steps is too small.*give at least --budget"):
        depthlab.advise("spirals", "mlp", out=str(tmp_path / "a"), budget=100, **TINY)
    # the full plan (120 steps per run) needs 846 steps; 600 fit a plan of shorter runs
    result = depthlab.advise("spirals", "mlp", out=str(tmp_path / "b"), budget=600, **{**TINY, "steps": 120})
    assert 60 <= result.plan.full_steps < 120 and result.steps_used <= 600


@pytest.mark.parametrize(
    "text, expected",
    [("20000", (20000, "steps")), (300, (300, "steps")), ("10m", (600, "seconds")), ("90s", (90, "seconds"))],
)
def test_budget_parsing(text, expected):
    budget = parse_budget(text)
    assert (budget.amount, budget.unit) == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data": "spirls"}, "unknown dataset 'spirls'; did you mean 'spirals'"),
        ({"model": "mpl"}, "unknown model 'mpl'; did you mean 'mlp'"),
        ({"seeds": 2}, "seeds=2: must be >= 3"),
        ({"budget": "ten minutes"}, "budget 'ten minutes'"),
    ],
)
def test_bad_inputs_raise_one_clear_error(kwargs, message, tmp_path):
    args = {"data": "spirals", "model": "mlp", "out": str(tmp_path), **TINY, **kwargs}
    with pytest.raises(DepthlabError, match=message):
        depthlab.advise(args.pop("data"), args.pop("model"), **args)
    assert not (tmp_path / "advice.json").exists()


def test_cli_prints_one_line_and_exits_2_on_unknown_data(capsys, tmp_path):
    assert main(["advise", "--data", "mnist1e", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mnist1e" in err and "mnist1d" in err


def test_cli_prints_the_table_and_the_answer(capsys, tmp_path):
    code = main(
        [
            "advise",
            "--data",
            "spirals",
            "--depths",
            "1,2",
            "--steps",
            "40",
            "--out",
            str(tmp_path),
            "-q",
            "width=8",
            "lr=0.01",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "recommended depth:" in printed and "(interval " in printed
    data = json.loads((tmp_path / "advice.json").read_text())
    assert f"recommended depth: {data['recommended_depth']} " in printed
    assert not math.isnan(data["steps_used"])
    # the same settings from Python (typed, not strings) find every stored piece: they hash alike
    again = depthlab.advise(
        "spirals", depths=(1, 2), steps=40, out=str(tmp_path), model_options={"width": 8}, train={"lr": 0.01}
    )
    # latency and probe per depth, 3 final seeds per depth, 3 seeds of each of the two baselines
    assert again.resumed == 2 + 2 + 2 * 3 + 2 * 3
    assert again.steps_used == data["steps_used"] and again.to_dict()["candidates"] == data["candidates"]


def test_a_time_budget_becomes_steps_at_the_probed_step_time():
    from depthlab.advise.config import Budget
    from depthlab.advise.plan import steps_from_seconds

    assert steps_from_seconds(Budget(60.0, "seconds"), 0.01, spent_seconds=10.0) == pytest.approx(50 / 0.0125)
    with pytest.raises(
        DepthlabError, match=r"budget of 5 s is too small for even the probes: they took 6.0 s"
    ):
        steps_from_seconds(Budget(5.0, "seconds"), 0.01, spent_seconds=6.0)


BUILDER = """
from pathlib import Path

from torch import nn


def build(depth, input_shape=(2,), num_classes=2, width=8):
    with open(Path(__file__).with_name("built.txt"), "a") as log:  # which depths the advisor asked for
        log.write(f"{depth}\\n")
    layers, features = [nn.Flatten()], input_shape[0]
    for _ in range(depth - 1):
        layers += [nn.Linear(features, width), nn.ReLU()]
        features = width
    return nn.Sequential(*layers, nn.Linear(features, num_classes))
"""


def test_a_users_csv_and_builder_file(tmp_path, capsys):
    import sqlite3

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a * b > 0)}" for a, b in x)
    (tmp_path / "quadrants.csv").write_text("a,b,label\n" + rows + "\n")
    (tmp_path / "nets.py").write_text(BUILDER)
    out = tmp_path / "out"
    args = [
        "advise",
        "--data",
        str(tmp_path / "quadrants.csv"),
        "--target",
        "label",
        "--model",
        f"{tmp_path / 'nets.py'}:build",
        "--depths",
        "1,2,3",
        "--steps",
        "60",
        "--out",
        str(out),
        "-q",
    ]
    assert main(args) == 0, capsys.readouterr().err
    data = json.loads((out / "advice.json").read_text())
    assert data["question"]["data_options"] == {"target": "label"}
    assert data["recommended_depth"] in (1, 2, 3)
    assert {int(d) for d in (tmp_path / "built.txt").read_text().split()} == {1, 2, 3}  # the user's builder
    trained = [c for c in data["candidates"] if c["seeds"]]
    assert trained and all(c["seeds"] == 3 and c["measured"] for c in trained)
    with sqlite3.connect(out / "results.sqlite") as conn:
        spec = json.loads(conn.execute("SELECT spec FROM runs LIMIT 1").fetchone()[0])
    assert spec["model"]["source"] and spec["data"]["sha256"]  # edited files are not mistaken for stored ones


def test_an_advice_shows_itself_in_a_notebook_the_answer_the_table_and_the_figure(advice):
    from html import escape

    from depthlab.advise.advice import answer, html, table_rows

    advice = advice[0]
    shown = advice._repr_html_()  # what Jupyter calls to show the object
    assert shown == html(advice)
    head, rows = table_rows(advice)
    assert escape(answer(advice)) in shown  # the answer, escaped, as the terminal prints it
    assert shown.count("<tr>") == 1 + len(advice.candidates) + len(advice.baselines) == 1 + len(rows)
    assert all(f"<th>{escape(h)}</th>" in shown for h in head)
    assert shown.count('<img src="data:image/png;base64,') == 1
