"""ParNet: blocks against hand-written formulas, topology, depth, re-parameterization exactness."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.models import create_model, model_config
from depthlab.models.parnet_blocks import ParNetBlock, channel_shuffle, interleave
from depthlab.models.reparam import check_equivalence, randomize_batchnorm, reparameterize_model

VARIANTS = ("parnet_s", "parnet_m", "parnet_l", "parnet_xl")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bn_eval(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    return (x - bn.running_mean.view(shape)) / torch.sqrt(
        bn.running_var.view(shape) + bn.eps
    ) * bn.weight.view(shape) + bn.bias.view(shape)


def test_interleave_and_shuffle_orders():
    a = torch.arange(3.0).view(1, 3, 1, 1)
    b = 10 + torch.arange(3.0).view(1, 3, 1, 1)
    assert interleave(a, b).flatten().tolist() == [0, 10, 1, 11, 2, 12]
    x = torch.arange(6.0).view(1, 6, 1, 1)  # group 0 = 0,1,2; group 1 = 3,4,5
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_stream_block_is_repvgg_with_skip_squeeze_excitation():
    block = ParNetBlock(4, 4, stride=1, activation="silu").eval()
    randomize_batchnorm(block)
    x = torch.randn(2, 4, 6, 6)
    skip = bn_eval(x, block.skip_norm)
    gate = torch.sigmoid(F.conv2d(skip.mean((2, 3), keepdim=True), block.se.conv.weight))
    expected = F.silu(
        bn_eval(F.conv2d(x, block.conv3x3.conv.weight, padding=1), block.conv3x3.bn)
        + bn_eval(F.conv2d(x, block.conv1x1.conv.weight), block.conv1x1.bn)
        + skip * gate
    )
    torch.testing.assert_close(block(x), expected)


def test_downsampling_block_gates_with_two_sigmoid_of_raw_input():
    block = ParNetBlock(3, 5, stride=2, activation="relu").eval()
    randomize_batchnorm(block)
    x = torch.randn(2, 3, 8, 8)
    gate = 2 * torch.sigmoid(F.conv2d(x.mean((2, 3), keepdim=True), block.se.conv.weight))
    dense = bn_eval(F.conv2d(x, block.conv3x3.conv.weight, stride=2, padding=1), block.conv3x3.bn)
    pooled = bn_eval(F.conv2d(F.avg_pool2d(x, 2), block.conv1x1.conv.weight), block.conv1x1.bn)
    assert block.skip_norm is None and isinstance(block.act, nn.ReLU)
    torch.testing.assert_close(block(x), F.relu((dense + pooled) * gate))


def test_grouped_block_shuffles_after_activation():
    block = ParNetBlock(8, 4, stride=1, groups=2).eval()
    x = torch.randn(1, 8, 4, 4)
    unshuffled = block.act(block.convs(x) * block.se(x))
    torch.testing.assert_close(block(x), channel_shuffle(unshuffled, 2))
    assert block.conv3x3.conv.groups == block.conv1x1.conv.groups == block.se.conv.groups == 2


@pytest.mark.parametrize("name", VARIANTS)
def test_reparameterization_is_exact_for_every_variant(name):
    model = create_model(name, input_shape=(3, 64, 64), num_classes=10)
    before = n_params(model)
    assert model.depth == 12 and model.config.stream_blocks == (4, 5, 5)
    error = check_equivalence(model, batch=1, inplace=True)
    assert error.max_rel_error <= 1e-5, error
    assert model.is_fused and n_params(model) < before
    assert model.depth == 12
    # kept unfused: identity BN (gated by its SE), every SE gate, the pre-fusion BNs
    assert all(isinstance(s.skip_norm, nn.BatchNorm2d) for stream in model.streams for s in stream)
    assert all(b.se.conv.weight.shape[-1] == 1 for b in model.parnet_blocks())
    norms = [getattr(f, n) for f in (model.fuse2, model.fuse3) for n in ("norm_current", "norm_previous")]
    assert all(isinstance(norm, nn.BatchNorm2d) for norm in norms)


@pytest.mark.parametrize("shape", [(3, 50, 46), (3, 33, 65), (3, 7, 9)])
def test_fused_model_takes_any_size_and_matches_padded_train_form(shape):
    model = create_model("parnet_m", width=8, num_classes=5, odd_input="pad", input_shape=shape)
    assert check_equivalence(model, batch=2).max_rel_error <= 1e-5


def test_unfused_official_form_rejects_sizes_not_divisible_by_32():
    model = create_model("parnet_m", width=8, num_classes=5).eval()
    with pytest.raises(DepthlabError, match="48x48.*divisible by 32"):
        model(torch.randn(1, 3, 48, 48))
    model.reparameterize()
    assert model(torch.randn(1, 3, 48, 48)).shape == (1, 5)


def test_reparameterize_copy_leaves_original_and_one_protocol():
    model = create_model("parnet_lite")
    fused = reparameterize_model(model)
    assert not model.is_fused and fused.is_fused
    # one method name, on every block: no aliases for tools to trip over (timm calls ``fuse`` and replaces
    # the module with what it returns)
    assert not any(hasattr(m, name) for m in model.modules() for name in ("fuse", "switch_to_deploy"))
    assert all(callable(getattr(b, "reparameterize", None)) for b in model.parnet_blocks())


def test_published_parameter_counts():
    # Paper: ParNet-S has 19M parameters (vs 22M for ResNet34); the fused official S (width 92) has 19.1M.
    fused_s = create_model("parnet_s").reparameterize()
    assert 19.0e6 < n_params(fused_s) < 19.3e6
    assert model_config("parnet_s", width=96).widths == (96, 192, 384, 1280)
    assert model_config("parnet_xl").widths == (200, 400, 800, 3200)


def test_stream_shapes_and_feature_info():
    model = create_model("parnet_m", width=8, input_shape=(3, 64, 64)).eval()
    ys = model.forward_streams(torch.randn(2, 3, 64, 64))
    assert [y.shape[1:] for y in ys] == [(8, 16, 16), (16, 8, 8), (32, 4, 4)]
    assert [f["reduction"] for f in model.feature_info] == [4, 8, 16]
    assert [f["num_chs"] for f in model.feature_info] == [8, 16, 32]
    assert model.forward_features(torch.randn(2, 3, 64, 64)).shape == (2, 128)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_lite_on_small_images(shape):
    model = create_model("parnet_lite", input_shape=shape)
    assert model(torch.randn(4, *shape)).shape == (4, 10)
    assert check_equivalence(model, batch=2).max_rel_error <= 1e-5


def test_lite_learns_a_tiny_batch():
    torch.manual_seed(0)
    model = create_model("parnet_lite", input_shape=(1, 8, 8), width=8)
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    first = F.cross_entropy(model(x), y).item()
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first


def test_depth_dial_sets_stream_lengths():
    cfg = model_config("parnet_lite", depth=13)
    assert cfg.stream_blocks == (5, 6, 6)
    assert create_model("parnet_lite", depth=13).depth == 13
    with pytest.raises(DepthlabError, match="depth=8"):
        model_config("parnet_lite", depth=8)


def test_cifar_variant_topology():
    model = create_model("parnet_cifar_m", width=8)
    assert model.config.stream_blocks == (3, 4, 4) and model.depth == 11
    ys = model.eval().forward_streams(torch.randn(1, 3, 32, 32))
    assert [y.shape[-1] for y in ys] == [32, 16, 8]
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_activation_choice_and_bad_names():
    assert isinstance(create_model("parnet_lite").stem[0].act, nn.SiLU)
    assert isinstance(create_model("parnet_lite", activation="relu").stem[0].act, nn.ReLU)
    with pytest.raises(DepthlabError, match="rleu"):
        create_model("parnet_lite", activation="rleu")
    with pytest.raises(DepthlabError, match="stem_stride"):
        create_model("parnet_lite", stem_stride=3)


def test_no_bias_in_convs_and_weight_decay_groups():
    model = create_model("parnet_lite")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.bias is None for c in convs)
    skip = model.no_weight_decay()
    bn_params = {
        f"{n}.{p}"
        for n, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d)
        for p in ("weight", "bias")
    }
    assert skip == bn_params | {"head.bias"}
    fused = reparameterize_model(model)
    fused_biases = {name for name, _ in fused.named_parameters() if name.endswith("fused.bias")}
    assert fused_biases and fused_biases <= fused.no_weight_decay()


def test_head_dropout_and_reset_classifier():
    model = create_model("parnet_lite", dropout=0.5)
    features = torch.ones(4, model.num_features)
    model.train()
    assert not torch.equal(model.forward_head(features), model.forward_head(features))
    model.eval()
    torch.testing.assert_close(model.forward_head(features), model.head(features))
    model.reset_classifier(3)
    assert model.forward_head(features).shape == (4, 3)
    assert model.forward_head(features).abs().max() == 0  # zero-initialized head, as the official fine-tuning


METER_CASES = [
    ("parnet_s", {}),
    ("parnet_xl", {"width": 8}),
    ("parnet_lite", {"depth": 9}),
    ("parnet_lite", {"depth": 13}),
    ("parnet_cifar_m", {"width": 8}),
]


@pytest.mark.parametrize(("name", "overrides"), METER_CASES)
def test_depth_matches_the_depth_meter_on_the_fused_model(name, overrides):
    from depthlab.diagnose.depth import longest_path_depth

    model = create_model(name, **overrides)
    size = 64 if model.config.stem_stride == 2 else model.config.input_shape[-1]
    x = torch.randn(1, model.config.input_shape[0], size, size)
    measured = longest_path_depth(model, x, form="deploy").depth
    assert measured == model.depth == (12 if name in VARIANTS else model.config.depth)


@pytest.mark.parametrize("name", ["parnet_cifar_s", "parnet_cifar_m", "parnet_cifar_l", "parnet_cifar_xl"])
def test_cifar_variants_fuse_exactly(name):
    model = create_model(name, **({} if name == "parnet_cifar_s" else {"width": 16}))
    before = n_params(model)
    assert check_equivalence(model, batch=2, inplace=True).max_rel_error <= 1e-5
    assert n_params(model) < before and model.depth == 11
