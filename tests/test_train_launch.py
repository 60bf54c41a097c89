"""The one build-and-train path (``train.launch``): seeding, the keys the data fixes, and ``prepare``."""

import pytest
import torch

from depthlab.advise import advise
from depthlab.data import load_dataset
from depthlab.diagnose.doctor import doctor
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.study import tasks
from depthlab.train import Callback, TrainConfig
from depthlab.train.launch import build_and_fit, build_for


@pytest.fixture(scope="module")
def data():
    return load_dataset("xor")


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_the_initial_weights_are_those_of_the_seed_set_right_before_the_build(data):
    torch.manual_seed(7)
    expected = create_model("mlp", **data.model_kwargs(), depth=3, width=8)
    torch.manual_seed(123)  # whatever the global stream was, the seed given decides
    assert same_weights(build_for("mlp", data, {"depth": 3, "width": 8}, seed=7), expected)
    assert not same_weights(build_for("mlp", data, {"depth": 3, "width": 8}, seed=8), expected)


class Started(Callback):
    def __init__(self):
        self.calls = 0

    def on_train_start(self, state):
        self.calls += 1


def test_prepare_sees_the_fresh_model_and_its_callbacks_join_the_run(data):
    seen, started = [], Started()

    def prepare(net):
        seen.append({k: v.clone() for k, v in net.state_dict().items()})
        return [started]

    config = TrainConfig(steps=3, quiet=True, seed=5)
    net, history = build_and_fit("mlp", data, config, {"depth": 2, "width": 8}, prepare=prepare)
    fresh = build_for("mlp", data, {"depth": 2, "width": 8}, seed=5)  # the run's seed by default
    assert all(torch.equal(seen[0][k], v) for k, v in fresh.state_dict().items())
    assert not same_weights(net, fresh) and history.steps == 3 and started.calls == 1


@pytest.mark.parametrize("key", ["num_classes", "input_shape"])
def test_every_caller_refuses_a_key_the_data_set_fixes_before_training(key, data, tmp_path):
    value = 3 if key == "num_classes" else (5,)
    match = f"{key}=.*set by the data set"
    with pytest.raises(DepthlabError, match=match):
        build_and_fit("mlp", data, TrainConfig(steps=1, quiet=True), {key: value})
    with pytest.raises(DepthlabError, match=match):
        doctor("mlp", data, steps=1, twin=False, **{key: value})
    with pytest.raises(DepthlabError, match=match):
        advise("xor", model_options={key: value}, depths=(1, 2), out=str(tmp_path), quiet=True)
    spec = {"model": {"name": "mlp", key: value}, "data": {"name": "xor"}, "train": {"steps": 1}}
    with pytest.raises(DepthlabError, match=match):
        tasks.run_spec(spec)
    assert not any(tmp_path.iterdir())  # the advisor refused before storing anything


def test_token_data_builds_a_model_that_reads_it_and_refuses_one_that_cannot(tmp_path):
    text = tmp_path / "words.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 400)
    lm = load_dataset(str(text), block=32, chunk=200)
    model = build_for("transformer", lm, {"depth": 1, "width": 16, "heads": 2})
    assert model.config.task == "lm" and model.config.num_classes == lm.num_classes  # the vocabulary
    ids = lm.x_train[:2]
    assert model(ids).shape == (2, 32, lm.num_classes)  # next-token logits at every position
    parity = load_dataset("bit_parity")
    classifier = build_for("transformer", parity, {"depth": 1, "width": 16, "heads": 2})
    assert classifier.config.vocab_size == parity.meta["vocab_size"] and classifier.config.task == "classify"
    for data, what in ((lm, "a language-modelling text"), (parity, "token ids")):
        with pytest.raises(DepthlabError) as err:
            build_for("mlp", data)
        assert str(err.value).startswith(f"model 'mlp' cannot read data set {data.name!r} ({what})")
        assert str(err.value).endswith("models that can: transformer")
