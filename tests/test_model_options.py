"""Model options as users type them: timm's ``in_chans`` on image models, choices checked by their types."""

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.models import create_model, model_config


@pytest.mark.parametrize(
    ("name", "default_shape"),
    [
        ("resnet_cifar", (3, 32, 32)),
        ("cnn2d", (3, 32, 32)),
        ("resnet18", (3, 224, 224)),
        ("parnet_lite", (1, 28, 28)),
    ],
)
def test_in_chans_sets_the_channels_of_an_image_models_input_shape(name, default_shape):
    assert model_config(name).input_shape == default_shape
    assert model_config(name, in_chans=2).input_shape == (2, *default_shape[1:])
    assert model_config(name, in_chans="2").input_shape == (2, *default_shape[1:])  # as the CLI passes it


def test_in_chans_builds_a_model_that_takes_that_many_channels():
    model = create_model("resnet_cifar", depth=8, in_chans=1, num_classes=7).eval()
    assert model.stem[0].in_channels == 1
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    # and the same weights shape as spelling input_shape out
    spelled = create_model("resnet_cifar", depth=8, input_shape=(1, 32, 32), num_classes=7)
    assert model.stem[0].weight.shape == spelled.stem[0].weight.shape == (16, 1, 3, 3)


def test_in_chans_agrees_with_an_input_shape_that_says_the_same():
    assert model_config("resnet18", in_chans=1, input_shape="1,64,64").input_shape == (1, 64, 64)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "mlp", "in_chans": 1}, "only image models (input_shape C,H,W) take in_chans; this one has"),
        ({"name": "cnn1d", "in_chans": 1}, "input_shape=(1, 40)"),
        (
            {"name": "resnet18", "in_chans": 1, "input_shape": "3,64,64"},
            "contradicts input_shape=(3, 64, 64)",
        ),
        ({"name": "cnn2d", "in_chans": "x"}, "in_chans='x': expected int"),
    ],
)
def test_in_chans_where_it_does_not_apply_is_one_clear_error(overrides, message):
    with pytest.raises(DepthlabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        create_model(**overrides)


@pytest.mark.parametrize(
    ("name", "key", "typo", "meant"),
    [
        ("mlp", "activation", "rleu", "relu"),
        ("cnn1d", "pool", "avgg", "avg"),
        ("resnet_cifar", "norm", "bath", "batch"),
        ("resnet_cifar", "activation", "tahn", "tanh"),
        ("parnet_lite", "activation", "sillu", "silu"),
        ("parnet_lite", "odd_input", "pda", "pad"),
    ],
)
def test_a_mistyped_choice_gets_a_suggestion(name, key, typo, meant):
    with pytest.raises(DepthlabError, match=f"unknown value for {key} '{typo}'; did you mean '{meant}'"):
        create_model(name, **{key: typo})


def test_parnet_strides_are_one_or_two_and_come_back_as_integers():
    assert model_config("parnet_lite", stem_stride="2").stem_stride == 2
    with pytest.raises(DepthlabError, match=r"stem_stride 3 \(valid: 1, 2\)"):
        create_model("parnet_lite", stem_stride=3)
