"""The depth meter against known values: MLP depth d -> d, ResNet-20 and its plain twin -> 20, two branches ->
the longer one, a reparameterizable block -> once in deploy form, and models defined only here (external
clients)."""

import pytest
import torch
from torch import nn

from depthlab.diagnose import longest_path_depth
from depthlab.errors import DepthlabError


def mlp(depth: int, width: int = 8) -> nn.Sequential:
    layers = [nn.Flatten(), nn.Linear(40, width), nn.BatchNorm1d(width), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.LayerNorm(width), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


class BasicBlock(nn.Module):
    """A CIFAR ResNet block (He et al. 2016, option A shortcut: subsample + zero-pad channels, no weights)."""

    def __init__(self, cin: int, cout: int, stride: int, residual: bool):
        super().__init__()
        self.residual, self.stride, self.pad = residual, stride, cout - cin
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.residual:
            short = x[:, :, :: self.stride, :: self.stride]
            out = out + nn.functional.pad(short, (0, 0, 0, 0, 0, self.pad))
        return torch.relu(out)


def resnet_cifar(depth: int, residual: bool) -> nn.Sequential:
    n, width, blocks, cin = (depth - 2) // 6, 4, [], 4
    for stage in range(3):
        for i in range(n):
            cout = width * 2**stage
            blocks.append(BasicBlock(cin, cout, 2 if (stage and i == 0) else 1, residual))
            cin = cout
    stem = [nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    return nn.Sequential(*stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


class TwoBranch(nn.Module):
    def __init__(self, long: int, short: int):
        super().__init__()
        self.long = nn.Sequential(*[nn.Linear(5, 5) for _ in range(long)])
        self.short = nn.Sequential(*[nn.Linear(5, 5) for _ in range(short)])

    def forward(self, x):
        return self.long(x) + self.short(x)


class RepBlock(nn.Module):
    """RepVGG-style: 3x3 conv + 1x1 conv + identity in training; one 3x3 conv after ``reparameterize()``."""

    def __init__(self, c: int):
        super().__init__()
        self.k3, self.k1, self.fused = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 1), None

    def forward(self, x):
        return self.fused(x) if self.fused is not None else self.k3(x) + self.k1(x) + x

    def reparameterize(self):
        c = self.k3.in_channels
        kernel = self.k3.weight + nn.functional.pad(self.k1.weight, (1, 1, 1, 1))
        kernel = kernel + nn.functional.pad(torch.eye(c).reshape(c, c, 1, 1), (1, 1, 1, 1))
        self.fused = nn.Conv2d(c, c, 3, padding=1)
        self.fused.weight.data, self.fused.bias.data = kernel.detach(), (self.k3.bias + self.k1.bias).detach()
        del self.k3, self.k1


@pytest.mark.parametrize("depth", [1, 2, 5, 16])
def test_mlp_depth_d_measures_d(depth):
    model = mlp(depth) if depth > 1 else nn.Sequential(nn.Flatten(), nn.Linear(40, 10))
    report = longest_path_depth(model, torch.randn(2, 1, 40))
    assert report.depth == depth and report.weight_layers == depth and int(report) == depth


@pytest.mark.parametrize("residual", [True, False])
def test_resnet20_and_its_plain_twin_measure_20(residual):
    model = resnet_cifar(20, residual)
    report = longest_path_depth(model, torch.randn(2, 3, 16, 16))
    assert report.depth == 20 and report.weight_layers == 20
    assert report.sequential_ops > 20  # norms, activations and adds lie on the path too


def test_parallel_branches_do_not_add():
    report = longest_path_depth(TwoBranch(long=4, short=2), torch.randn(3, 5))
    assert report.depth == 4 and report.weight_layers == 6


def test_deploy_form_counts_a_fused_block_once_and_leaves_the_model_alone():
    model = nn.Sequential(RepBlock(3), nn.ReLU(), RepBlock(3))
    x = torch.randn(2, 3, 6, 6)
    train = longest_path_depth(model, x, form="train")
    deploy = longest_path_depth(model, x, form="deploy")
    assert (train.depth, train.weight_layers) == (2, 4)
    assert (deploy.depth, deploy.weight_layers, deploy.form) == (2, 2, "deploy")
    assert model[0].fused is None  # the original is not fused


def test_weight_built_inside_forward_counts_once():
    class SummedKernel(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Parameter(torch.randn(4, 4)), nn.Parameter(torch.randn(4, 4))

        def forward(self, x):
            return x @ (self.a + self.b)

    assert longest_path_depth(nn.Sequential(SummedKernel(), SummedKernel()), torch.randn(2, 4)).depth == 2


class Positioned(nn.Module):
    """Linear in, a learned (positions x width) table added, Linear out: two weight layers deep."""

    def __init__(self, lookup: bool):
        super().__init__()
        self.inp, self.out = nn.Linear(3, 8), nn.Linear(8, 2)
        self.table = nn.Embedding(5, 8) if lookup else nn.Parameter(torch.randn(5, 8))

    def forward(self, x):  # (B, 5, 3)
        table = self.table(torch.arange(5)) if isinstance(self.table, nn.Embedding) else self.table
        return self.out(self.inp(x) + table)


@pytest.mark.parametrize("lookup", [True, False])
def test_a_table_added_to_the_signal_is_no_weight_layer(lookup):
    """Position embeddings shift the signal; adding them is not a layer (by lookup or as a raw parameter)."""
    report = longest_path_depth(Positioned(lookup), torch.randn(2, 5, 3))
    assert (report.depth, report.weight_layers) == (2, 2)


class TokenNet(nn.Module):
    """Token lookup + a looked-up position table, then two Linear layers: three weight layers deep."""

    def __init__(self):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(11, 8), nn.Embedding(5, 8)
        self.mid, self.out = nn.Linear(8, 8), nn.Linear(8, 11)

    def forward(self, ids):  # (B, 5) -> (B, 5, 11)
        h = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        return self.out(torch.relu(self.mid(h)))


def test_token_ids_start_the_path_at_the_lookup_that_reads_them():
    report = longest_path_depth(TokenNet(), torch.randint(0, 11, (2, 5)))
    assert (report.depth, report.weight_layers) == (3, 3)  # the position lookup reads no input


def test_frozen_layers_and_modes_are_restored():
    model = mlp(4)
    model[1].requires_grad_(False)
    model.train()
    running = model[2].running_mean.clone()
    assert longest_path_depth(model, torch.randn(8, 1, 40)).depth == 4  # frozen layers still count
    assert not model[1].weight.requires_grad and model.training
    assert torch.equal(model[2].running_mean, running)


@pytest.mark.parametrize(
    "name, depth",
    [("mlp", 6), ("cnn1d", 6), ("resnet_cifar", 20), ("resnet_cifar", 32), ("plain_cifar", 20)],
)
def test_registry_models_are_as_deep_as_their_depth_dial(name, depth):
    # the dial counts weight layers on the longest path (ResNet-20: 19 convs + the head; shortcuts add none)
    from depthlab.models import create_model

    model = create_model(name, depth=depth)
    assert longest_path_depth(model, torch.randn(2, *model.config.input_shape)).depth == depth


def test_bad_form():
    with pytest.raises(DepthlabError, match="deploy"):
        longest_path_depth(mlp(2), torch.randn(2, 1, 40), form="fused")


def test_parnet_s_is_12_deep_in_both_forms_and_fuses_branches():
    from depthlab.models import create_model

    model = create_model("parnet_s", input_shape=(3, 32, 32))
    x = torch.randn(2, 3, 32, 32)
    train, deploy = longest_path_depth(model, x), longest_path_depth(model, x, form="deploy")
    assert train.depth == deploy.depth == 12  # Non-deep Networks, arXiv 2110.07641: depth 12
    assert deploy.weight_layers < train.weight_layers
