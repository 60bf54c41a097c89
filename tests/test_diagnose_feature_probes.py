"""Linear probes on a trained MNIST-1D CNN (rise with depth, end near the net's accuracy) and lesions."""

import pytest
import torch
from torch import nn

from depthlab.data import load_dataset
from depthlab.diagnose.feature_probes import accuracy, layer_features, lesion, linear_probes, pool_features
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.train import fit


@pytest.fixture(scope="module")
def trained_cnn():
    torch.manual_seed(0)
    data = load_dataset("mnist1d")
    model = create_model("cnn1d", depth=5, width=32, **data.model_kwargs())
    fit(model, data, steps=500, lr=3e-3, quiet=True, eval_every=100)
    return model, data


def test_probes_rise_with_depth_and_end_near_the_net(trained_cnn):
    model, data = trained_cnn
    rows = linear_probes(model, data, steps=50, max_features=256)
    acc = [r["test_acc"] for r in rows]
    net_acc = accuracy(model, data.x_test, data.y_test)
    assert [r["name"] for r in rows] == ["stem", "blocks.0", "blocks.1", "blocks.2"]
    assert acc[-1] > acc[0] + 0.05
    assert acc[-1] >= max(acc[:-1]) - 0.02  # the top of the stack is (about) the most linearly separable
    assert abs(acc[-1] - net_acc) < 0.06


def test_lesion_skips_only_shape_keeping_blocks(trained_cnn):
    model, data = trained_cnn
    result = lesion(model, data)
    assert result["baseline_acc"] == pytest.approx(accuracy(model, data.x_test, data.y_test))
    skippable = [r["skippable"] for r in result["blocks"]]
    assert skippable == [False, True, True]  # block 0 halves the length (stride 2): no identity fits
    copy = create_model("cnn1d", depth=5, width=32, **data.model_kwargs())
    copy.load_state_dict(model.state_dict())
    copy.blocks[2] = nn.Identity()
    assert result["blocks"][2]["test_acc"] == pytest.approx(accuracy(copy, data.x_test, data.y_test))
    assert isinstance(model.blocks[2], nn.Module) and not isinstance(model.blocks[2], nn.Identity)


def test_hooked_features_of_any_model_and_pooling():
    model = nn.Sequential(nn.Conv1d(1, 64, 3, padding=1), nn.ReLU(), nn.Conv1d(64, 4, 3, padding=1))
    x = torch.randn(5, 1, 40)
    first, last = layer_features(model, x, modules=["1", "2"], max_features=256)
    assert first.shape == (5, 256) and last.shape == (5, 160)  # 64 ch x 4 pooled positions; 4 x 40 kept
    assert torch.allclose(first[:, :4], torch.relu(model[0](x))[:, 0].reshape(5, 4, 10).mean(2), atol=1e-6)
    assert pool_features(torch.randn(2, 8, 6, 6), max_features=32).shape == (2, 32)  # 8 ch x 2x2
    with pytest.raises(DepthlabError, match="module"):
        layer_features(model, x, modules=["7"])
