"""Checkpoints: exact round trips, safe loading, and resume == uninterrupted, bit for bit."""

import json

import pytest
import torch
from torch import nn

from depthlab import atomic
from depthlab.errors import DepthlabError
from depthlab.train import Callback, fit, load_weights
from depthlab.train import checkpoint as ckpt
from depthlab.train.config import TrainConfig
from depthlab.train.optim import build_optimizer
from test_engine import QUIET, blobs, without_time


def dropout_bn_mlp(seed=0) -> nn.Module:
    """Dropout (global RNG) and BatchNorm (buffers) make resume exactness non-trivial."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))


RECIPE = dict(
    epochs=3,
    batch_size=50,
    optimizer="sgd",
    lr=0.1,
    momentum=0.9,
    nesterov=True,
    weight_decay=1e-3,
    schedule="cosine",
    warmup=3,
    ema_decay=0.9,
    eval_every=1,
    **QUIET,
)


class Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, state):
        if state.step == self.step:
            raise Crash


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, optimizer):
    data = blobs(n_train=500)  # 10 steps per epoch
    config = dict(RECIPE, optimizer=optimizer)
    reference = fit(dropout_bn_mlp(), data, **config)

    first = dropout_bn_mlp()
    with pytest.raises(Crash):  # checkpoints after epochs 1 and 2 exist; the crash is inside epoch 3
        fit(first, data, checkpoint_dir=str(tmp_path), callbacks=[CrashAt(25)], **config)
    assert ckpt.latest_name(tmp_path) == "step-00000020"

    torch.manual_seed(123)  # a different global RNG state: resume must restore its own
    resumed = fit(dropout_bn_mlp(seed=7), data, checkpoint_dir=str(tmp_path), resume=True, **config)
    assert resumed.final == reference.final
    assert without_time(resumed.records) == without_time(reference.records)
    assert resumed.steps == reference.steps == 30


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    data = blobs()
    fresh = fit(dropout_bn_mlp(), data, **RECIPE)
    resumed = fit(dropout_bn_mlp(), data, checkpoint_dir=str(tmp_path / "none"), resume=True, **RECIPE)
    assert resumed.final == fresh.final


def test_checkpoint_round_trip_restores_weights_and_optimizer_state(tmp_path):
    model = dropout_bn_mlp()
    fit(model, blobs(), checkpoint_dir=str(tmp_path), **RECIPE)
    tensors, meta = ckpt.load_checkpoint(tmp_path)
    other = load_weights(dropout_bn_mlp(seed=3), tmp_path)
    for (k, v), w in zip(model.state_dict().items(), other.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    # the optimizer state written equals the one read back into a fresh optimizer
    config = TrainConfig(**{k: v for k, v in RECIPE.items() if k in TrainConfig.__dataclass_fields__})
    fresh = build_optimizer(other, config)
    ckpt.optimizer_from_flat(fresh, tensors, meta["optimizer"])
    again, again_meta = ckpt.optimizer_to_flat(fresh)
    saved = ckpt.prefixed("optim", tensors)
    assert set(again) == {f"optim.{k}" for k in saved} and len(saved) > 0
    for key, value in again.items():
        assert torch.equal(value, tensors[key]), key
    assert again_meta["param_groups"] == json.loads(json.dumps(meta["optimizer"]["param_groups"]))


def test_checkpoint_files_are_safetensors_and_json_only(tmp_path):
    fit(dropout_bn_mlp(), blobs(), checkpoint_dir=str(tmp_path), **RECIPE)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["latest.json", "step-00000033.json", "step-00000033.safetensors"]  # older ones removed
    meta = json.loads((tmp_path / "step-00000033.json").read_text())
    assert meta["step"] == 33 and meta["config"]["lr"] == 0.1


def test_ema_weights_are_saved_and_loadable(tmp_path):
    model = dropout_bn_mlp()
    fit(model, blobs(), checkpoint_dir=str(tmp_path), **RECIPE)
    ema = load_weights(dropout_bn_mlp(), tmp_path, ema=True)
    assert not torch.equal(ema[0].weight, model[0].weight)


def test_a_torn_write_leaves_the_previous_checkpoint(tmp_path):
    ckpt.save_checkpoint(tmp_path, "a", {"w": torch.ones(2)}, {"step": 1})

    def explode(tmp):
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.write_with(tmp_path / "b.safetensors", explode)
    tensors, meta = ckpt.load_checkpoint(tmp_path)
    assert meta == {"step": 1} and torch.equal(tensors["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.safetensors", "latest.json"]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(DepthlabError, match="no checkpoint"):
        load_weights(nn.Linear(2, 2), tmp_path)


def test_resume_with_augmentation_equals_an_uninterrupted_run(tmp_path):
    from test_engine import tiny_convnet, tiny_images

    data = tiny_images()  # 4 steps per epoch at batch 16
    config = dict(epochs=3, batch_size=16, augment="crop_flip", optimizer="sgd", lr=0.05, **QUIET)
    reference = fit(tiny_convnet(), data, **config)
    with pytest.raises(Crash):
        fit(tiny_convnet(), data, checkpoint_dir=str(tmp_path), callbacks=[CrashAt(6)], **config)
    resumed = fit(tiny_convnet(), data, checkpoint_dir=str(tmp_path), resume=True, **config)
    assert resumed.final == reference.final
