"""The one deploy form: it computes the train form's function (eval mode, BN statistics randomized so a wrong
fold cannot hide), folds what can be folded, leaves the model alone, and is what both the advisor's latency
column and the study's cost runs time."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from depthlab.advise import runs as advise_runs
from depthlab.deploy import deploy_form
from depthlab.diagnose import timing
from depthlab.diagnose.timing import Timing
from depthlab.models import create_model
from depthlab.models.parnet_blocks import ConvBN
from depthlab.models.reparam import randomize_batchnorm
from depthlab.study.tasks import diagnostic

BATCHNORMS = nn.modules.batchnorm._BatchNorm


def batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, BATCHNORMS) for m in model.modules())


def trained_looking(name: str, shape: tuple[int, ...], **overrides) -> nn.Module:
    torch.manual_seed(0)
    model = create_model(name, input_shape=shape, num_classes=10, **overrides)
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    return model.eval()


def same_function(a: nn.Module, b: nn.Module, shape: tuple[int, ...]) -> bool:
    x = torch.randn(8, *shape)
    with torch.no_grad():
        return torch.allclose(a(x), b(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "shape", "overrides", "left"),
    [
        ("resnet_cifar", (1, 8, 8), {"depth": 8, "width": 4}, 0),  # every BN follows a conv
        ("mlp", (6,), {"depth": 3, "width": 8, "norm": "batch"}, 0),  # linear + BatchNorm1d
        ("parnet_lite", (3, 16, 16), {}, None),  # the skip and pre-fusion BNs stay (see models.reparam)
    ],
)
def test_the_deploy_form_computes_the_same_function_with_its_batchnorms_folded(name, shape, overrides, left):
    model = trained_looking(name, shape, **overrides)
    before = batchnorms(model)
    deployed = deploy_form(model)
    assert same_function(deployed, model, shape)
    assert not [m for m in deployed.modules() if isinstance(m, ConvBN)]  # every ParNet branch fused
    if left is None:
        assert 0 < batchnorms(deployed) < before
    else:
        assert batchnorms(deployed) == left
    assert batchnorms(model) == before and not deployed.training  # the original is left as it was


class Branchy(nn.Module):
    """A forward torch.fx cannot trace: Python control flow on a tensor's value."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x))
        return y if bool(x.sum() > -1e9) else -y


def test_a_model_torch_fx_cannot_trace_keeps_its_batchnorms_and_its_function():
    model = Branchy()
    randomize_batchnorm(model, torch.Generator().manual_seed(0))
    model.eval()
    deployed = deploy_form(model)
    assert batchnorms(deployed) == 1 and deployed is not model
    assert same_function(deployed, model, (2, 5, 5))


def test_the_advisor_and_the_cost_study_time_the_same_deploy_form(monkeypatch):
    timed = []

    def spy(model, x, budget, **_):
        timed.append(model)
        return Timing(1e-3, 1)

    monkeypatch.setattr(advise_runs, "time_forward", spy)  # the advisor's latency column
    monkeypatch.setattr(timing, "time_forward", spy)  # measure, behind the study's cost_deploy runs
    shape = (1, 8, 8)
    model = trained_looking("resnet_cifar", shape, depth=8, width=4)
    assert advise_runs.latency_ms(model, shape, batch=2) == (1.0, "deploy")
    diagnostic("cost_deploy").measure(model, SimpleNamespace(input_shape=shape))
    advisor, study = timed
    for form in (advisor, study):
        assert batchnorms(form) == 0 and same_function(form, model, shape)

    def layers(form):  # torch.fx makes a class per GraphModule: compare names
        return [(name, type(m).__name__) for name, m in form.named_modules()]

    assert layers(advisor) == layers(study)
    assert all(
        torch.equal(a, b)
        for a, b in zip(advisor.state_dict().values(), study.state_dict().values(), strict=True)
    )


def test_the_advisor_names_the_form_it_timed():
    plain = create_model("mlp", depth=2, input_shape=(4,), num_classes=2)
    assert advise_runs.latency_ms(plain, (4,), batch=1, budget=0.01)[1] == "train"  # nothing to fold
    parnet = create_model("parnet_lite", input_shape=(3, 16, 16), num_classes=10)
    assert advise_runs.latency_ms(parnet, (3, 16, 16), batch=1, budget=0.01)[1] == "deploy"
