"""A play job trains exactly as ``fit`` does, shows the watch's numbers, and carries the doctor's verdicts."""

from __future__ import annotations

import json

import pytest
import torch

from depthlab.diagnose import watch
from depthlab.models import create_model
from depthlab.play import pacing, recorder, settings, views
from depthlab.play.job import Job, load_data
from depthlab.play.publisher import Publisher
from depthlab.train import fit
from polling import wait_for

PLAIN = {"model": "mlp", "data": "circle", "depth": 30, "width": 16, "activation": "sigmoid"}
CURE = {**PLAIN, "residual": True, "norm": "batch", "init": "he_normal"}


def started(raw, paused=False) -> Job:
    job = Job("t", settings.parse_setup(raw), paused=paused)
    job.start()
    return job


def update(job) -> dict:
    return json.loads(job.message)


@pytest.fixture
def jobs():
    made = []
    yield made
    for job in made:
        job.stop("test over")
        job.thread.join(30)


def test_three_play_steps_are_three_fit_steps(jobs):
    """Same seed, same batches, same numbers: the page's run is ``depthlab train``'s run, and what it shows
    for a step is what ``watch`` records for that step of a plain ``fit``."""
    raw = {"model": "mlp", "data": "gauss", "depth": 4, "width": 8, "seed": 3, "lr": 0.01}
    job = started(raw, paused=True)
    jobs.append(job)
    for n in (1, 2, 3):
        job.control("step")
        wait_for(lambda n=n: (update(job)["layers"] or {}).get("step") == n)
    shown = update(job)["layers"]
    weights = job.call(lambda j: {k: v.clone() for k, v in j.model.state_dict().items()})

    setup = settings.parse_setup(raw)
    data = load_data(setup, 3)
    torch.manual_seed(3)
    model = create_model("mlp", **(data.model_kwargs() | setup.model_kw))
    with watch(model) as w:
        fit(model, data, job.config, callbacks=[w], steps=3)
    last = views.layer_view([r for r in w.rows if r["step"] == 2], 3)
    assert shown["grad_norm"] == last["grad_norm"] and shown["name"] == last["name"]
    assert shown["update_ratio"] == last["update_ratio"]
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_the_plain_sigmoid_net_gets_vanishing_gradients_and_its_cure_does_not(jobs):
    plain, cure = started(PLAIN), started(CURE)
    jobs += [plain, cure]

    def verdict(job):
        found = {v["check"]: v for v in update(job)["verdicts"]}
        return found.get("vanishing gradients")

    wait_for(lambda: verdict(plain) is not None and verdict(cure) is not None, timeout=120)
    bad, good = verdict(plain), verdict(cure)
    assert bad["status"] == "PROBLEM" and bad["line"].startswith("PROBLEM vanishing gradients:")
    assert good["status"] != "PROBLEM" and not good["line"].startswith("PROBLEM")
    assert bad["remedy"]  # a one-click remedy, in the CLI's override names, that changes something
    model_keys = settings.choices()["models"]["mlp"]
    assert all(k in model_keys and str(PLAIN.get(k, "")).lower() != v for k, v in bad["remedy"].items())
    assert good["remedy"] == {}
    assert update(plain)["verdicts"][0]["status"] == "PROBLEM"  # problems first


def test_only_paced_steps_are_recorded_and_the_window_is_bounded(jobs, monkeypatch):
    monkeypatch.setattr(recorder, "WINDOW", 10)
    monkeypatch.setattr(pacing, "RECORD_EVERY_S", 3600.0)  # after the first record, only forced ones
    job = started({"model": "mlp", "data": "circle", "depth": 3, "width": 4})
    jobs.append(job)
    wait_for(lambda: job.step >= 200)
    assert job.call(lambda j: len(j.watch.rows)) == 3  # one recorded step of 3 layers in 200 steps
    monkeypatch.setattr(pacing, "RECORD_EVERY_S", 0.0)  # now every step
    wait_for(lambda: job.step >= 400)
    sizes = [job.call(lambda j: len(j.watch.rows)) for _ in range(5)]
    assert max(sizes) <= 3 * 10  # a fresh watch every WINDOW records
    job.control("pause")
    wait_for(lambda: update(job)["status"] == "paused")
    assert update(job)["layers"]["step"] >= 400


def test_a_bad_model_for_the_data_is_an_error_before_any_thread():
    setup = settings.parse_setup({"model": "cnn1d", "data": "circle"})
    with pytest.raises(Exception) as found:
        Job("x", setup)
    assert "input_shape" in str(found.value)


def test_the_2d_views_cover_the_plane(jobs):
    job = started({"model": "mlp", "data": "xor2d", "depth": 3, "width": 4})
    jobs.append(job)
    wait_for(lambda: update(job)["boundary"] is not None)
    board = update(job)["boundary"]
    assert board["n"] == views.GRID and len(board["p"]) == views.GRID**2
    assert all(0 <= p <= 1 for p in board["p"])
    assert [len(layer) for layer in board["units"]] == [4, 4]  # two hidden layers of 4 units
    assert len(job.points["train"]) == 250 and {p[2] for p in job.points["train"]} == {0, 1}


def test_a_remedy_already_in_force_or_unknown_to_the_model_is_not_offered():
    from depthlab.diagnose import Verdict
    from depthlab.play.verdicts import as_json

    verdict = Verdict(
        "vanishing gradients", "PROBLEM", "ratio 0", {"norm": "batch", "residual": True, "x": 1}
    )
    shown = as_json(verdict, {"norm": "batch", "residual": False}, {"norm", "residual"})
    assert shown["remedy"] == {"residual": "true"} and shown["line"].startswith("PROBLEM vanishing gradients")
    healthy = as_json(Verdict("dead units", "ok", "none", {}), {}, {"norm"})
    assert healthy == {"check": "dead units", "status": "ok", "line": "ok dead units: none", "remedy": {}}


def test_an_update_is_one_json_object_of_its_fields_and_views_and_wakes_each_listener():
    publisher = Publisher("a")
    woken = []
    publisher.subscribe(lambda: woken.append(json.loads(publisher.message)["seq"]))
    publisher.status, publisher.step, publisher.loss, publisher.steps_per_s = "running", 7, 0.25, 12.345
    publisher.set_view("layers", {"step": 7, "name": ["fc1"], "grad_norm": [0.5]})
    publisher.timing["train_ms"] = 1.234
    publisher.emit(stamp=12.0)
    assert json.loads(publisher.message) == {
        "job": "a",
        "seq": 1,
        "t": 12000.0,
        "step": 7,
        "status": "running",
        "reason": "",
        "steps_per_s": 12.3,
        "loss": 0.25,
        "timing": {"train_ms": 1.23, "stats_ms": 0.0, "views_ms": 0.0, "json_ms": 0.0},
        "layers": {"step": 7, "name": ["fc1"], "grad_norm": [0.5]},
        "metrics": None,
        "boundary": None,
        "verdicts": [],
    }
    publisher.emit()
    assert woken == [1, 2] and publisher.seq == 2  # a reader that sees seq move reads that update
