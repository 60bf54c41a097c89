"""Play settings speak the CLI's language (routing, one-line messages), have documented caps; the 2-D toys."""

import pytest
import torch

from depthlab.cli import main
from depthlab.data import load_dataset
from depthlab.errors import DepthlabError
from depthlab.play import settings
from depthlab.play.job import load_data
from depthlab.train.launch import route_overrides


def test_keys_are_routed_as_the_cli_routes_them():
    raw = {"model": "mlp", "data": "circle", "depth": 30, "lr": "0.01", "noise": 0.2, "residual": True}
    setup = settings.parse_setup(raw)
    expected = route_overrides(
        "mlp", "circle", {"depth": "30", "lr": "0.01", "noise": "0.2", "residual": "true"}
    )
    assert [setup.model_kw, setup.train_kw, setup.data_kw] == expected
    assert setup.command() == "depthlab train mlp depth=30 lr=0.01 noise=0.2 residual=true --data circle"


def test_the_exported_command_reproduces_the_setup():
    setup = settings.parse_setup({"model": "mlp", "data": "xor2d", "depth": "3", "width": "8", "seed": "4"})
    words = setup.command().split()
    pairs = dict(w.split("=", 1) for w in words[3:] if "=" in w)
    again = settings.parse_setup({"model": words[2], "data": words[-1], **pairs})
    assert (again.model_kw, again.train_kw, again.data_kw) == (setup.model_kw, setup.train_kw, setup.data_kw)


@pytest.mark.parametrize(
    "overrides",
    [["activation=rleu"], ["dept=3"], ["lr=-1"], ["optimizer=sgdd"], ["init=he_nromal"]],
)
def test_a_bad_value_gets_the_cli_message(capsys, overrides):
    assert main(["train", "mlp", *overrides, "--data", "xor2d", "--quiet"]) == 2
    cli_message = capsys.readouterr().err.strip().removeprefix("depthlab: error: ")
    key, value = overrides[0].split("=")
    with pytest.raises(DepthlabError) as found:
        setup = settings.parse_setup({"model": "mlp", "data": "xor2d", key: value})
        settings.train_config(setup)
        settings.model_config(setup, load_data(setup, 0))
    assert str(found.value) == cli_message


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"depth": 2000}, ["depth=2000", "cap of 1024"]),
        ({"depth": 512, "width": 512}, ["512 x 512", "cap of 65536"]),
        ({"batch_size": 10_000}, ["batch_size=10000", "cap of 4096"]),
        ({"steps": 10**7}, ["steps=10000000", "cap of 200000"]),
        ({"model": "resnet50"}, ["unknown model 'resnet50'", "mlp"]),
        ({"data": "../etc/passwd"}, ["unknown data set", "mnist1d"]),
        ({"data": "user"}, ["unknown data set 'user'"]),  # no file was given on the command line
        ({"input_shape": "2"}, ["input_shape", "set by the data set"]),
        ({"num_samples": 10**6}, ["num_samples=1000000", "cap of 20000"]),
        ({"data": "mnist1d", "final_seq_length": "4e3"}, ["final_seq_length=4000", "cap of 1024"]),
        ({"checkpoint_dir": "/etc"}, ["checkpoint_dir='/etc'", "not in play"]),
    ],
)
def test_caps_and_names_are_enforced(raw, words):
    with pytest.raises(DepthlabError) as found:
        settings.parse_setup({"model": "mlp", "data": "circle", **raw})
    assert all(w in str(found.value) for w in words), str(found.value)


def test_an_unset_value_is_capped_at_the_default_the_run_would_use(monkeypatch):
    from depthlab.train import TrainConfig

    monkeypatch.setitem(settings.CAPS, "batch_size", TrainConfig.batch_size - 1)
    with pytest.raises(DepthlabError, match=f"batch_size={TrainConfig.batch_size}: above the play cap"):
        settings.parse_setup({"model": "mlp", "data": "circle"})


def test_a_setup_at_the_caps_is_accepted():
    setup = settings.parse_setup({"depth": 256, "width": 256, "batch_size": 4096, "steps": 200_000})
    assert setup.model_kw == {"depth": "256", "width": "256"}


def test_options_list_each_models_own_keys():
    found = settings.choices()
    assert "norm" in found["models"]["mlp"] and "norm" not in found["models"]["parnet_lite"]
    assert found["model_defaults"]["resnet_cifar"]["depth"] == 20  # a valid 6n+2 depth to start from
    assert set(settings.TOY_DATA) <= set(found["data"]) and found["user_data"] is None


@pytest.mark.parametrize("name", settings.TOY_DATA)
def test_toys_are_seeded_split_and_in_the_square(name):
    a, b = load_dataset(name, seed=3, noise=0.1), load_dataset(name, seed=3, noise=0.1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert len(a.x_train) == len(a.x_test) == 250 and a.input_shape == (2,)
    assert 0.3 < a.y_train.float().mean() < 0.7  # both classes present
    assert a.x_train.abs().max() < 1.6
    assert len(load_dataset(name, train_fraction=0.8).x_train) == 400


def test_noise_free_toys_follow_their_rule():
    """With noise 0 each label is its rule of the point: TensorFlow Playground's four pictures."""
    circle = load_dataset("circle")
    assert torch.equal(circle.y_train, (circle.x_train.norm(dim=1) < 0.6).long())
    xor = load_dataset("xor2d")
    assert torch.equal(xor.y_train, (xor.x_train.prod(dim=1) > 0).long())
    gauss = load_dataset("gauss")
    assert torch.equal(gauss.y_train, (gauss.x_train.sum(dim=1) > 0).long())  # blobs 0.57 apart, std 0.1
    spiral = load_dataset("spiral2d")
    radius = spiral.x_train.norm(dim=1)
    angle = torch.atan2(spiral.x_train[:, 1], spiral.x_train[:, 0])
    turn = torch.remainder(angle - 1.75 * 2 * torch.pi * radius, 2 * torch.pi)  # 0 on arm 0, pi on arm 1
    assert torch.equal(spiral.y_train, ((turn > torch.pi / 2) & (turn < 3 * torch.pi / 2)).long())


@pytest.mark.parametrize("raw", [{"noise": 0.6}, {"train_fraction": 1.0}, {"num_samples": 2}])
def test_toy_options_are_checked(raw):
    with pytest.raises(DepthlabError):
        load_dataset("circle", **raw)
