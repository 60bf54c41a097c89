"""Every registered model (ParNet is tested on its own): shapes, gradients, parameter counts by hand formula,
depth by counting weight layers, inits, configs, and the DepthNet interface."""

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from depthlab.diagnose.depth import longest_path_depth
from depthlab.errors import DepthlabError
from depthlab.models import create_model, list_models, model_config
from depthlab.models.resnet_cifar import PadShortcut

NAMES = [n for n in list_models() if not n.startswith("parnet")]
IMAGENET = [n for n in NAMES if n[-1].isdigit()]  # resnet18 ... plain50
BATCH = 4


def small(name: str, depth: int | None = None) -> dict:
    """Overrides that keep each model tiny; ``depth`` picks the depth where the name does not fix it."""
    if name == "mlp":
        return dict(depth=depth or 3, width=8)
    if name == "cnn1d":
        return dict(depth=depth or 4, width=4)
    if name == "cnn2d":
        return dict(depth=depth or 4, width=4, input_shape=(3, 12, 12))
    if name in ("resnet_cifar", "plain_cifar"):
        return dict(depth=depth or 8, width=4, input_shape=(3, 8, 8))
    if name == "transformer":
        return dict(depth=depth or 2, width=8, heads=2, input_shape=(3, 5))
    return dict(width=4, input_shape=(3, 16, 16), num_classes=10)


def cases() -> list[tuple[str, dict]]:
    depths = {
        "mlp": (1, 2, 6),
        "cnn1d": (1, 2, 6),
        "cnn2d": (1, 3, 6),
        "resnet_cifar": (8, 14),
        "plain_cifar": (8, 14),
        "transformer": (1, 3),
    }
    return [(n, small(n, d)) for n in NAMES for d in depths.get(n, (None,))]


def ids(case) -> str:
    return f"{case[0]}-d{case[1].get('depth', '')}" if isinstance(case, tuple) else str(case)


def make_input(model: nn.Module, batch: int = BATCH) -> torch.Tensor:
    return torch.randn(batch, *model.config.input_shape)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weight_layers_on_path(model: nn.Module) -> int:
    """Linear/Conv layers outside shortcuts: the longest path of a chain of blocks, counted independently."""
    return sum(
        isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) and "shortcut" not in name
        for name, m in model.named_modules()
    )


def test_registry_holds_every_model_of_the_issue():
    for name in (
        "mlp",
        "cnn1d",
        "cnn2d",
        "resnet_cifar",
        "plain_cifar",
        "resnet18",
        "resnet34",
        "resnet50",
        "plain18",
        "plain34",
        "plain50",
        "transformer",
    ):
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_config_contract(name):
    """Configs start with depth and width and carry input_shape and num_classes (docs/architecture.md)."""
    config = model_config(name)
    names = [f.name for f in dataclasses.fields(config)]
    assert names[:2] == ["depth", "width"] and {"input_shape", "num_classes"} <= set(names)
    assert create_model(name, **small(name)).config.depth == small(name).get("depth", config.depth)


# --- the whole registry ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, overrides", cases(), ids=[ids(c) for c in cases()])
def test_forward_backward(name, overrides):
    model = create_model(name, **overrides)
    x = make_input(model)
    out = model(x)
    assert out.shape == (BATCH, model.config.num_classes)
    assert torch.isfinite(out).all()
    out.square().sum().backward()  # a squared loss reaches every parameter, unlike a softmax over one class
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name, overrides", cases(), ids=[ids(c) for c in cases()])
def test_depth_counts_weight_layers(name, overrides):
    model = create_model(name, **overrides)
    assert model.depth == weight_layers_on_path(model)
    if name in ("mlp", "cnn1d", "cnn2d", "resnet_cifar", "plain_cifar"):
        assert model.depth == overrides["depth"]


@pytest.mark.parametrize("name, overrides", cases(), ids=[ids(c) for c in cases()])
def test_depth_equals_the_longest_path_in_the_autograd_graph(name, overrides):
    model = create_model(name, **overrides)
    assert longest_path_depth(model, make_input(model, 2)).depth == model.depth


@pytest.mark.parametrize("name, overrides", cases(), ids=[ids(c) for c in cases()])
def test_intermediates_are_stem_plus_blocks_and_end_in_the_output(name, overrides):
    model = create_model(name, **overrides).eval()
    x = make_input(model)
    with torch.no_grad():
        steps = model.forward_intermediates(x)
        out = model(x)
    assert len(steps) == len(model.blocks) + 1
    torch.testing.assert_close(model.forward_head(model.pool(steps[-1])), out)


@pytest.mark.parametrize("name", NAMES)
def test_reset_classifier_changes_output_width(name):
    model = create_model(name, **small(name))
    model.reset_classifier(3)
    assert model(make_input(model)).shape == (BATCH, 3)


@pytest.mark.parametrize("name", ["mlp", "cnn1d", "resnet_cifar", "resnet50"])
def test_grad_checkpointing_gives_identical_gradients(name):
    overrides = small(name, 6 if name in ("mlp", "cnn1d") else None)
    if name in ("mlp", "cnn1d"):
        overrides.update(residual=True, norm="batch", dropout=0.2)  # checkpointing must replay dropout masks
    model = create_model(name, **overrides)
    x = make_input(model)

    def grads(checkpointing: bool) -> list[torch.Tensor]:
        model.zero_grad()
        model.set_grad_checkpointing(checkpointing)
        torch.manual_seed(1)
        model(x).square().sum().backward()
        return [p.grad.clone() for p in model.parameters()]

    for plain, checkpointed in zip(grads(False), grads(True), strict=True):
        torch.testing.assert_close(plain, checkpointed, rtol=1e-5, atol=1e-6)


# --- parameter counts by hand ---------------------------------------------------------------------


def per_layer_extras(width: int, norm: str, activation: str) -> int:
    """Parameters a norm (weight + bias per channel) and a PReLU (one slope per channel) add to one layer."""
    return (2 * width if norm != "none" else 0) + (width if activation == "prelu" else 0)


def mlp_params(depth, width, in_features, classes, norm="none", activation="relu") -> int:
    if depth == 1:
        return in_features * classes + classes
    hidden = (in_features + 1) * width + (depth - 2) * (width + 1) * width
    return hidden + (width + 1) * classes + (depth - 1) * per_layer_extras(width, norm, activation)


MLP_SETTINGS = [
    dict(depth=1),
    dict(depth=2, norm="batch"),
    dict(depth=5, norm="layer", activation="prelu"),
    dict(depth=4, residual=True, norm="batch"),
    dict(depth=4, residual=True, preact=True, norm="batch"),
    dict(depth=3, residual=True, preact=True, activation="prelu", norm="layer"),
]


@pytest.mark.parametrize("settings", MLP_SETTINGS)
def test_mlp_param_count(settings):
    model = create_model("mlp", width=7, input_shape=(2, 5), num_classes=3, **settings)
    extras = {k: settings[k] for k in ("norm", "activation") if k in settings}
    assert n_params(model) == mlp_params(settings["depth"], 7, 10, 3, **extras)


def cnn_params(
    depth,
    width,
    channels,
    spatial,
    classes,
    k,
    dims,
    downsample,
    pool="flatten",
    norm="none",
    activation="relu",
) -> int:
    if depth == 1:
        return channels * math.prod(spatial) * classes + classes
    kernel = k**dims
    convs = (channels * kernel + 1) * width + (depth - 2) * (width * kernel + 1) * width
    for _ in range(min(downsample, depth - 1)):
        spatial = [math.ceil(s / 2) for s in spatial]
    features = width if pool == "avg" else width * math.prod(spatial)
    return convs + (features + 1) * classes + (depth - 1) * per_layer_extras(width, norm, activation)


CNN_SETTINGS = [
    dict(depth=1),
    dict(depth=2),
    dict(depth=5, norm="batch", kernel_size=5),
    dict(depth=6, residual=True, norm="layer", activation="prelu", downsample=3),
    dict(depth=6, residual=True, preact=True, norm="batch", pool="avg"),
    dict(depth=40, width=2, downsample=10),
]


@pytest.mark.parametrize("name, dims", [("cnn1d", 1), ("cnn2d", 2)])
@pytest.mark.parametrize("settings", CNN_SETTINGS)
def test_cnn_param_count(name, dims, settings):
    spatial = [11] * dims
    config = dict(width=3, input_shape=(2, *spatial), num_classes=4) | settings
    model = create_model(name, **config)
    model(torch.randn(2, *config["input_shape"]))  # the head's input width must fit the feature map
    hand = dict(
        k=config.get("kernel_size", 3),
        downsample=config.get("downsample", 2),
        **{key: config[key] for key in ("pool", "norm", "activation") if key in config},
    )
    assert n_params(model) == cnn_params(config["depth"], config["width"], 2, spatial, 4, dims=dims, **hand)


def cifar_params(n, width, channels, classes) -> int:
    """Stem conv + BN, three stages of n two-conv blocks (BN after each), head; shortcuts are free."""
    total, previous = 9 * channels * width + 2 * width, width
    for stage in range(3):
        w = width * 2**stage
        total += 9 * previous * w + 2 * w + (2 * n - 1) * (9 * w * w + 2 * w)
        previous = w
    return total + (4 * width + 1) * classes


@pytest.mark.parametrize("n", [1, 3, 5])
def test_resnet_cifar_param_count_and_plain_twin(n):
    resnet = create_model("resnet_cifar", depth=6 * n + 2, width=8, input_shape=(1, 8, 8), num_classes=7)
    plain = create_model("plain_cifar", depth=6 * n + 2, width=8, input_shape=(1, 8, 8), num_classes=7)
    assert n_params(resnet) == n_params(plain) == cifar_params(n, 8, 1, 7)
    assert resnet.depth == plain.depth == 6 * n + 2


@pytest.mark.parametrize("depth, published", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_resnet_cifar_matches_published_sizes(depth, published):
    """He et al. 2016, Table 6: parameters in millions, as printed (two significant digits)."""
    count = n_params(create_model("resnet_cifar", depth=depth))
    assert count == cifar_params((depth - 2) // 6, 16, 3, 10)
    assert round(count / 1e6, 2 if published < 1 else 1) == published


def projection_params(widths_in_out: list[tuple[int, int]]) -> int:
    return sum(i * o + 2 * o for i, o in widths_in_out)


@pytest.mark.parametrize(
    "name, torchvision",
    [("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032), ("resnet101", 44_549_160)],
)
def test_imagenet_resnets_match_torchvision_param_counts(name, torchvision):
    with torch.device("meta"):  # counts without allocating or initializing 44M weights
        assert n_params(create_model(name)) == torchvision


@pytest.mark.parametrize(
    "name, resnet, projections",
    [
        ("plain18", 11_689_512, [(64, 128), (128, 256), (256, 512)]),
        ("plain34", 21_797_672, [(64, 128), (128, 256), (256, 512)]),
        ("plain50", 25_557_032, [(64, 256), (256, 512), (512, 1024), (1024, 2048)]),
    ],
)
def test_imagenet_plain_twins_lack_only_the_projections(name, resnet, projections):
    with torch.device("meta"):
        assert n_params(create_model(name)) == resnet - projection_params(projections)


def flops(name: str, shape: tuple[int, ...], train: bool = False) -> int:
    """FLOPs of one forward (and backward) pass as torch counts them: 2 per multiply-add (on the meta device,
    so nothing is computed)."""
    with torch.device("meta"):
        model = create_model(name)
        x = torch.randn(1, *shape)
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        if train:
            out.sum().backward()
    return counter.get_total_flops()


def test_resnet20_training_flops_match_the_performance_anchor():
    """spec/performance.md: ResNet-20 (option A) costs 0.242 GFLOP per training image."""
    assert round(flops("resnet_cifar", (3, 32, 32), train=True) / 1e9, 3) == 0.242


@pytest.mark.parametrize("name, gmacs", [("resnet18", 1.81), ("resnet34", 3.66), ("resnet50", 4.09)])
def test_imagenet_resnet_macs_match_torchvision(name, gmacs):
    """torchvision's model table lists 1.81 / 3.66 / 4.09 G multiply-adds at 224x224."""
    assert round(flops(name, (3, 224, 224)) / 2e9, 2) == gmacs


def test_imagenet_resnet_other_inputs_and_classes():
    model = create_model("resnet50", width=8, input_shape=(1, 40, 48), num_classes=5)
    assert model(torch.randn(2, 1, 40, 48)).shape == (2, 5)
    assert model.depth == 50


# --- CIFAR ResNet specifics -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet_cifar", "plain_cifar"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 40, 40), (3, 9, 17)])
def test_cifar_nets_take_any_channels_and_sizes_from_8(name, shape):
    model = create_model(name, depth=8, width=4, input_shape=shape, num_classes=13)
    assert model(torch.randn(2, *shape)).shape == (2, 13)


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 4, 6, 6)
    y = PadShortcut(4, 8, 2)(x)
    assert y.shape == (2, 8, 3, 3)
    torch.testing.assert_close(y[:, :4], x[:, :, ::2, ::2])
    assert y[:, 4:].abs().sum() == 0


def test_resnet_block_adds_the_shortcut_after_bn_and_before_relu():
    """relu(BN(conv2(...)) + x): with conv2 zeroed (BN then gives its bias 0), a block is relu(x)."""
    model = create_model("resnet_cifar", depth=8, width=4, input_shape=(3, 8, 8)).eval()
    plain = create_model("plain_cifar", depth=8, width=4, input_shape=(3, 8, 8)).eval()
    block, plain_block = model.blocks[0], plain.blocks[0]
    nn.init.zeros_(block.conv2.weight)
    plain_block.load_state_dict(block.state_dict())
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(x))
        assert plain_block(x).abs().sum() == 0


def test_cifar_default_init_is_he_normal_fan_in():
    model = create_model("resnet_cifar", depth=14, width=16)
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() > 4000):
        fan_in = conv.weight[0].numel()
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.06)


def test_imagenet_init_is_he_normal_fan_out():
    model = create_model("resnet18")
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
        fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.06)


def test_zero_init_residual_makes_blocks_identity_then_relu():
    model = create_model("resnet18", width=4, input_shape=(3, 32, 32), zero_init_residual=True).eval()
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model.blocks[0](x), torch.relu(x))


# --- MLP and CNN dials ----------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["he_normal", "xavier_normal", "lecun_normal", "normal(0.1)"])
def test_named_init_sets_each_layer_std(init):
    model = create_model(
        "mlp", depth=4, width=256, input_shape=(1, 300), num_classes=200, init=init, activation="relu"
    )
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == 4
    for layer in layers:
        fan_out, fan_in = layer.weight.shape
        expected = {
            "he_normal": math.sqrt(2 / fan_in),
            "xavier_normal": math.sqrt(2 / (fan_in + fan_out)),
            "lecun_normal": math.sqrt(1 / fan_in),
            "normal(0.1)": 0.1,
        }[init]
        assert layer.weight.std().item() == pytest.approx(expected, rel=0.03)
        assert layer.bias.abs().sum() == 0


def test_orthogonal_init_in_a_cnn():
    model = create_model("cnn1d", depth=3, width=16, init="orthogonal", activation="tanh")
    w = model.blocks[0].layer.weight.flatten(1)  # 16 x 48: rows orthonormal (gain 1 for tanh)
    torch.testing.assert_close(w @ w.T, torch.eye(16), atol=1e-5, rtol=0)


def test_mlp_depth_one_is_logistic_regression():
    model = create_model("mlp", depth=1, input_shape=(1, 40))
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linear) == 1 and linear[0].in_features == 40 and len(model.blocks) == 0
    x = torch.randn(3, 1, 40)
    torch.testing.assert_close(model(x), linear[0](x.flatten(1)))


def test_mlp_flattens_any_input():
    for shape in [(7,), (2, 5), (3, 4, 4)]:
        assert create_model("mlp", input_shape=shape, width=4)(torch.randn(2, *shape)).shape == (2, 10)


@pytest.mark.parametrize("name", ["mlp", "cnn1d", "cnn2d"])
def test_residual_and_plain_twins_have_equal_params(name):
    base = small(name, 6)
    counts = {
        n_params(create_model(name, **base, norm="batch", residual=r, preact=p))
        for r, p in [(False, False), (True, False), (True, True)]
    }
    assert len(counts) == 1


def test_residual_identity_at_zero_weights():
    """Post-activation: h + act(norm(W h)) with W = 0 and tanh gives h, so a zeroed block is the identity."""
    model = create_model("mlp", depth=4, width=6, residual=True, activation="tanh")
    block = model.blocks[0]
    nn.init.zeros_(block.layer.weight)
    nn.init.zeros_(block.layer.bias)
    h = torch.randn(3, 6)
    torch.testing.assert_close(block(h), h)


def test_deep_cnn_keeps_positions():
    model = create_model("cnn1d", depth=64, width=4)  # downsample=2: 40 -> 20 -> 10, then stride 1
    assert model.forward_features(torch.randn(2, 1, 40)).shape == (2, 4 * 10)


def test_cnn_default_mirrors_the_mnist1d_paper_cnn():
    model = create_model("cnn1d")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert len(convs) == 3 and model.depth == 4 and model.head.in_features == 32 * 10


def test_dropout_only_in_training():
    model = create_model("mlp", depth=3, width=64, dropout=0.5)
    x = torch.randn(4, 1, 40)
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_string_overrides_are_coerced():
    model = create_model("mlp", depth="5", residual="true", dropout="0.1", input_shape="1,20")
    assert model.depth == 5 and model.config.residual is True and model.config.input_shape == (1, 20)


# --- bad configs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, overrides, fragment",
    [
        ("mlp", dict(depth=0), "depth=0"),
        ("mlp", dict(width=-3), "width=-3"),
        ("mlp", dict(dropout=1.0), "dropout=1.0"),
        ("mlp", dict(activation="rleu"), "rleu"),
        ("mlp", dict(norm="group"), "group"),
        ("mlp", dict(init="kaiming"), "kaiming"),
        ("mlp", dict(num_classes=0), "num_classes=0"),
        ("mlp", dict(colour="red"), "colour"),
        ("cnn1d", dict(input_shape=(3, 32, 32)), "(3, 32, 32)"),
        ("cnn2d", dict(input_shape=(1, 40)), "(1, 40)"),
        ("cnn1d", dict(kernel_size=4), "kernel_size=4"),
        ("cnn1d", dict(pool="max"), "max"),
        ("cnn1d", dict(downsample=-1), "downsample=-1"),
        ("resnet_cifar", dict(depth=21), "depth=21"),
        ("resnet_cifar", dict(input_shape=(3, 7, 32)), "(3, 7, 32)"),
        ("resnet_cifar", dict(input_shape=(32, 32)), "(32, 32)"),
        ("plain_cifar", dict(depth=2), "depth=2"),
        ("resnet18", dict(depth=20), "depth=20"),
        ("resnet50", dict(input_shape=(224, 224)), "(224, 224)"),
    ],
)
def test_bad_configs_raise_naming_the_value(name, overrides, fragment):
    with pytest.raises(DepthlabError) as info:
        create_model(name, **overrides)
    assert fragment in str(info.value)


def test_unknown_model_suggests_a_name():
    with pytest.raises(DepthlabError, match="resnet_cifra.*did you mean 'resnet_cifar'"):
        create_model("resnet_cifra")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_runs_on_cuda(name):
    model = create_model(name, **small(name)).cuda()
    assert model(make_input(model).cuda()).device.type == "cuda"
