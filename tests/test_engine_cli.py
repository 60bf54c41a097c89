"""``depthlab train``: bad input exits 2 with one line naming it; a run prints its table and result.json."""

import json

import pytest

from depthlab.cli import main
from depthlab.train.launch import route_overrides
from depthlab.train.recipes import list_recipes, recipe


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "mlp", "dept=3"], ["'dept'", "did you mean 'depth'"]),
        (["train", "mlpp"], ["unknown model 'mlpp'", "'mlp'"]),
        (["train", "mlp", "lr=-1"], ["lr=-1"]),
        (["train", "mlp", "optimizer=sgdd"], ["'sgdd'", "'sgd'"]),
        (["train", "mlp", "--recipe", "resnet_cfar"], ["unknown recipe", "'resnet_cifar'"]),
        (["train", "mlp", "--data", "mnist1e"], ["unknown dataset", "'mnist1d'"]),
        (["train", "mlp", "epochs"], ["key=value", "'epochs'"]),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for word in words:
        assert word in err


def test_a_run_prints_the_table_and_writes_results(capsys, tmp_path):
    argv = [
        "train",
        "mlp",
        "depth=2",
        "width=16",
        "steps=20",
        "device=cpu",
        "--data",
        "xor",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "mlp on xor: ok" in out and "test_acc" in out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["model_config"]["depth"] == 2 and result["train_config"]["steps"] == 20
    assert result["history"]["steps"] == 20
    assert (tmp_path / "checkpoints" / "latest.json").exists()


def test_recipe_values_come_first_and_overrides_win():
    model_keys, train_keys, _ = route_overrides("resnet_cifar", "cifar10", {"depth": "56", "lr": "0.05"})
    assert model_keys == {"depth": "56"} and train_keys == {"lr": "0.05"}
    he = recipe("resnet_cifar").train
    assert (he["lr"], he["momentum"], he["weight_decay"], he["batch_size"]) == (0.1, 0.9, 1e-4, 128)
    assert (he["milestones"], he["steps"], he["augment"]) == ((32_000, 48_000), 64_000, "crop_flip")
    assert recipe("resnet_cifar_110").train["warmup"] == 400
    parnet = recipe("parnet_imagenet").train
    assert parnet["nesterov"] and parnet["label_smoothing"] == 0.1 and parnet["ema_decay"] == 0.9999
    assert "0.001" in recipe("parnet_imagenet").note
    assert {"resnet_cifar", "plain_cifar", "parnet_imagenet", "parnet_cifar"} <= set(list_recipes())


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_builds_a_valid_train_config(name):
    from depthlab.config import build
    from depthlab.train import TrainConfig

    config = build(TrainConfig, recipe(name).train)
    assert config.lr == recipe(name).train["lr"]
