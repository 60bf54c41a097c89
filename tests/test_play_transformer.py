"""Play offers the transformer on the sequence tasks: its dials through the CLI's coercer, one message for a
model that cannot read tokens, the gradient RMS per block (one entry per block) and the task's examples."""

from __future__ import annotations

import json
import math

import pytest
import torch
from starlette.testclient import TestClient

from depthlab.cli import main
from depthlab.data import load_dataset
from depthlab.errors import DepthlabError
from depthlab.play import settings
from depthlab.play.app import create_app
from depthlab.play.blocks import block_view
from depthlab.play.job import Job, load_data
from depthlab.play.manager import JobManager
from depthlab.play.sequence_view import task_view
from polling import wait_for

TINY = {"model": "transformer", "data": "recall", "depth": 3, "width": 16, "heads": 2, "num_samples": 200}
NO_TOKENS = "model 'mlp' cannot read data set 'recall' (token ids); models that can: transformer"
BASE = "http://127.0.0.1:8765"


def built(raw: dict):
    setup = settings.parse_setup(raw)
    settings.train_config(setup)
    return setup, settings.model_config(setup, load_data(setup, 0))


def test_the_block_dials_reach_the_transformer_and_warmup_the_trainer():
    raw = {
        **TINY,
        "norm_position": "post",
        "branch_scale": "depth",
        "attention": "false",
        "mlp": True,
        "norm": "rms",
        "warmup": 20,
    }
    setup, config = built(raw)
    assert (config.heads, config.norm_position, config.branch_scale, config.norm) == (
        2,
        "post",
        "depth",
        "rms",
    )
    assert config.attention is False and config.mlp is True
    assert config.vocab_size == 16 and config.input_shape == (
        9,
    )  # recall's 8 keys + 8 values, 2*4 + 1 tokens
    assert settings.train_config(setup).warmup == 20
    assert "attention=false" in setup.command() and setup.command().endswith("--data recall")


@pytest.mark.parametrize(
    "override",
    ["heads=3", "norm_position=side", "branch_scale=2", "norm=batch", "attention=maybe", "warmup=-1"],
)
def test_a_bad_dial_gets_the_clis_message(capsys, override):
    assert main(["train", "transformer", override, "--data", "recall", "--quiet"]) == 2
    cli_message = capsys.readouterr().err.strip().removeprefix("depthlab: error: ")
    key, value = override.split("=")
    with pytest.raises(DepthlabError) as found:
        built({"model": "transformer", "data": "recall", key: value})
    assert str(found.value) == cli_message


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"data": "bit_parity", "length": 5000}, ["length=5000", "cap of 1024"]),
        ({"pairs": 1000}, ["pairs=1000", "cap of 256"]),
        ({"data": "mod_add", "p": 500}, ["p=500", "cap of 128"]),
        ({"data": "chars", "block": 4096}, ["block=4096", "cap of 1024"]),
        ({"mlp_ratio": 100}, ["mlp_ratio=100.0", "cap of 16"]),
        ({"task": "lm"}, ["task=lm", "set by the data set (recall)"]),
        ({"data": "circle", "vocab_size": 5}, ["vocab_size=5", "set by the data set (circle)"]),
    ],
)
def test_sequence_caps_and_keys_the_data_sets(raw, words):
    with pytest.raises(DepthlabError) as found:
        settings.parse_setup({"model": "transformer", "data": "recall", **raw})
    assert all(w in str(found.value) for w in words), str(found.value)


def test_a_model_that_cannot_read_tokens_is_one_message_naming_the_one_that_can():
    with pytest.raises(DepthlabError) as found:
        built({"model": "mlp", "data": "recall"})
    assert str(found.value) == NO_TOKENS
    app = create_app(token="t", manager=JobManager(grace_s=0.3, claim_s=60))
    with TestClient(app, base_url=BASE, headers={"x-depthlab-token": "t", "origin": BASE}) as client:
        body = {"settings": {"model": "mlp", "data": "recall"}}
        assert client.post("/api/validate", json=body).json() == {"error": NO_TOKENS}
        started = client.post("/api/jobs", json=body)
        assert started.status_code == 400 and started.json() == {"error": NO_TOKENS}
        assert not app.state.manager.jobs


def test_the_page_is_offered_the_transformer_and_its_own_choices():
    found = settings.choices()
    assert "transformer" in found["models"] and {"recall", "bit_parity"} <= set(found["sequences"])
    assert found["model_choices"]["transformer"]["norm"] == ["layer", "rms"]
    assert found["model_choices"]["transformer"]["norm_position"] == ["pre", "post", "deepnorm", "none"]
    assert found["block_models"] == ["transformer"]
    assert "heads" in found["models"]["transformer"] and "heads" not in found["models"]["mlp"]


def test_the_block_rms_pools_each_blocks_weights():
    rows = [
        {"name": "stem.tokens", "grad_norm": 9.0},  # outside the blocks: not drawn by block
        {"name": "blocks.0.attn.f.qkv", "grad_norm": 3.0},
        {"name": "blocks.0.mlp.f.fc1", "grad_norm": 4.0},
        {"name": "blocks.1.attn.f.qkv", "grad_norm": float("nan")},
        {"name": "head", "grad_norm": 1.0},
    ]
    sizes = {"stem.tokens": 4, "blocks.0.attn.f.qkv": 10, "blocks.0.mlp.f.fc1": 15, "blocks.1.attn.f.qkv": 10}
    assert block_view(rows, sizes | {"head": 1}) == {"index": [1, 2], "grad_rms": [1.0, None]}  # sqrt(25/25)
    assert block_view(rows[:1], sizes) is None


@pytest.fixture
def job():
    made = Job("t", settings.parse_setup(TINY), paused=True)
    made.start()
    yield made
    made.stop("test over")
    made.thread.join(30)


def test_a_tiny_transformer_on_recall_publishes_one_gradient_per_block(job):
    for n in (1, 2, 3):
        job.control("step")
        wait_for(lambda n=n: (json.loads(job.message)["layers"] or {}).get("step") == n)
    update = json.loads(job.message)
    by_block = update["layers"]["blocks"]
    assert by_block["index"] == [1, 2, 3]  # one entry per block: depth=3
    assert len(by_block["grad_rms"]) == job.model_config.depth
    assert all(v is not None and 0 < v < math.inf for v in by_block["grad_rms"])
    per_layer = update["layers"]["name"]
    assert sum(name.startswith("blocks.") for name in per_layer) == 4 * 3  # qkv, out, fc1, fc2 per block
    assert update["boundary"] is None and job.info()["points"] is None
    assert job.info()["sequence"] == {"task": "classification", "classes": 8, "length": 9, "chance": 0.125}
    examples = update["metrics"]["examples"]
    assert len(examples) == 6 and all(e["answer"].startswith("v") for e in examples)
    x0 = load_data(job.setup, 0).x_test[0].tolist()
    assert examples[0]["tokens"] == [f"k{i}" if i < 8 else f"v{i - 8}" for i in x0]


def test_an_mlp_job_has_no_block_view():
    mlp = Job(
        "m", settings.parse_setup({"model": "mlp", "data": "circle", "depth": 3, "width": 4}), paused=True
    )
    mlp.start()
    try:
        mlp.control("step")
        wait_for(lambda: (json.loads(mlp.message)["layers"] or {}).get("step") == 1)
        assert "blocks" not in json.loads(mlp.message)["layers"] and mlp.info()["sequence"] is None
    finally:
        mlp.stop("test over")
        mlp.thread.join(30)


def test_chance_of_a_text_is_its_most_common_character():
    data = load_dataset("chars", seed=0)
    counts = torch.bincount(data.y_train.reshape(-1))
    assert task_view(data)["chance"] == round(float(counts.max() / counts.sum()), 4)
    assert task_view(load_dataset("circle")) is None
