"""Official checkpoints load: a mirror of the official module layout (names from spec/parnet.md §1.3-1.4),
written independently here, gives a state dict that depthlab's ParNet loads strictly and reproduces."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.models.parnet_keys import load_official, official_key
from depthlab.models.reparam import randomize_batchnorm


def conv_bn(i, o, k, s, g):
    seq = nn.Sequential()
    seq.add_module("conv", nn.Conv2d(i, o, k, s, k // 2, groups=g, bias=False))
    seq.add_module("bn", nn.BatchNorm2d(o))
    return seq


class OfficialInner(nn.Module):  # RepVGGBlock's names: rbr_dense, rbr_1x1, rbr_identity, se.cvsig.conv
    def __init__(self, i, o, s, g):
        super().__init__()
        self.rbr_identity = nn.BatchNorm2d(i) if i == o and s == 1 else None
        self.rbr_dense = conv_bn(i, o, 3, s, g)
        one = conv_bn(i, o, 1, 1, g)
        self.rbr_1x1 = nn.Sequential(nn.AvgPool2d(2, 2), one) if s == 2 else one
        self.se = nn.Module()
        self.se.cvsig = nn.Module()
        self.se.cvsig.conv = nn.Conv2d(i, o, 1, groups=g, bias=False)
        self.g = g

    def gate(self, x):
        return torch.sigmoid(self.se.cvsig.conv(F.adaptive_avg_pool2d(x, 1)))

    def forward(self, x):
        out = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            skip = self.rbr_identity(x)
            out = F.relu(out + skip * self.gate(skip))
        else:
            out = F.relu(out * 2 * self.gate(x))
        if self.g > 1:  # 2-group shuffle: out[2k + j] = group j's channel k
            n, c, h, w = out.shape
            out = out.reshape(n, 2, c // 2, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        return out


class OfficialBlock(nn.Module):  # RepVGGOur: the extra ".block." level
    def __init__(self, i, o, s=1, g=1):
        super().__init__()
        self.block = OfficialInner(i, o, s, g)

    def forward(self, x):
        return self.block(x)


class MultiBN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.b1, self.b2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)

    def forward(self, pair):
        return self.b1(pair[0]), self.b2(pair[1])


class Concat(nn.Module):
    def forward(self, pair):
        n, c, h, w = pair[0].shape
        return torch.cat([pair[0].unsqueeze(2), pair[1].unsqueeze(2)], 2).reshape(n, 2 * c, h, w)


class OfficialParNet(nn.Module):
    def __init__(self, planes, blocks=(4, 5, 5), classes=10):
        super().__init__()
        p1, p2, p3, last = planes
        stem = min(64, p1)
        self.inits = nn.ModuleList(
            [
                nn.Sequential(OfficialBlock(3, stem, 2), OfficialBlock(stem, p1, 2)),
                OfficialBlock(p1, p2, 2),
                OfficialBlock(p2, p3, 2),
            ]
        )
        self.streams = nn.ModuleList(
            nn.Sequential(*[OfficialBlock(p, p) for _ in range(n)])
            for p, n in zip((p1, p2, p3), blocks, strict=True)
        )
        fusion2 = nn.Sequential(MultiBN(p2), Concat(), OfficialBlock(2 * p2, p3, 2, 2))
        self.downsamples_2 = nn.ModuleList([OfficialBlock(p1, p2, 2), fusion2])
        self.combine = nn.Sequential(
            MultiBN(p3), Concat(), OfficialBlock(2 * p3, p3, 1, 2), OfficialBlock(p3, last, 2)
        )
        self.head = nn.Module()
        self.head.fc = nn.Linear(last, classes)

    def forward(self, x):
        xs = []
        for init in self.inits:
            x = init(x)
            xs.append(x)
        ys = [stream(xi) for stream, xi in zip(self.streams, xs, strict=True)]
        prev = self.downsamples_2[0](ys[0])
        prev = self.downsamples_2[1]((ys[1], prev))
        out = self.combine((ys[2], prev))
        return self.head.fc(out.mean((2, 3)))


def official_and_ours():
    official = OfficialParNet((8, 16, 32, 128))
    randomize_batchnorm(official)
    ours = create_model("parnet_m", width=8, num_classes=10, activation="relu", input_shape=(3, 64, 64))
    return official.eval(), ours.eval()


def test_official_state_dict_loads_strictly_and_reproduces_outputs():
    official, ours = official_and_ours()
    load_official(ours, {"state_dict": {f"module.{k}": v for k, v in official.state_dict().items()}})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), official(x), rtol=1e-5, atol=1e-5)


def official_names(official_keys, with_fused: bool) -> dict[str, str]:
    """depthlab key -> official key, plus the official fused names (``rbr_dense.weight`` / ``.bias``)."""
    names = {official_key(k): k for k in official_keys}
    for key in (k for k in official_keys if with_fused and k.endswith(".rbr_dense.conv.weight")):
        ours = official_key(key).removesuffix(".conv3x3.conv.weight")
        names[f"{ours}.fused.weight"] = key.replace(".conv.weight", ".weight")
        names[f"{ours}.fused.bias"] = key.replace(".conv.weight", ".bias")
    return names


def test_fused_official_checkpoint_loads_into_deploy_form():
    official, ours = official_and_ours()
    fused = create_model("parnet_m", width=8, num_classes=10, activation="relu")
    load_official(fused, official.state_dict())
    fused.reparameterize()
    names = official_names(list(official.state_dict()), with_fused=True)
    official_fused_state = {names[k]: v for k, v in fused.state_dict().items()}
    assert any(k.endswith("rbr_dense.bias") for k in official_fused_state)
    load_official(ours, official_fused_state)
    assert ours.is_fused
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), official(x), rtol=1e-5, atol=1e-5)


def test_key_map_names_and_errors():
    assert official_key("inits.0.1.block.rbr_1x1.1.bn.running_var") == "stem.1.conv1x1.bn.running_var"
    assert official_key("streams.2.4.block.rbr_identity.weight") == "streams.2.4.skip_norm.weight"
    assert official_key("combine.0.b2.bias") == "fuse3.norm_previous.bias"
    assert official_key("downsamples_2.1.2.block.se.cvsig.conv.weight") == "fuse2.block.se.conv.weight"
    with pytest.raises(DepthlabError, match="unexpected key"):
        official_key("backbone.layer1.weight")
    official, _ = official_and_ours()
    with pytest.raises(DepthlabError, match="does not fit"):
        load_official(create_model("parnet_m", width=16), official.state_dict())
