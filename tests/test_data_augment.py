"""On-device batch augmentation: each op checked against its definition, per example, plus determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from depthlab.data import AugmentOptions, device_generator
from depthlab.data.augment import augment, cutout, normalize, random_crop, random_flip
from depthlab.errors import DepthlabError

DEVICES = ["cpu"] + ([pytest.param("cuda", marks=pytest.mark.gpu)] if torch.cuda.is_available() else [])


def batch(device: str, n: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, 8, 10, generator=torch.Generator().manual_seed(1)).to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_a_crop_is_a_window_of_the_padded_image(device):
    x = batch(device)
    out = random_crop(x, 2, device_generator(0, device))
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(len(x)):  # the oracle: exactly one of the 25 windows of the padded image matches
        windows = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 10])
        ]
        assert len(windows) == 1
        offsets.add(windows[0])
    assert len(offsets) > 10  # offsets vary across the batch
    assert out.device.type == device and out.shape == x.shape


@pytest.mark.parametrize("device", DEVICES)
def test_a_flip_is_a_mirror_or_the_identity(device):
    x = batch(device, 200)
    out = random_flip(x, device_generator(3, device))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x, strict=True)])
    assert bool((flipped ^ kept).all())
    assert 60 < int(flipped.sum()) < 140  # p = 0.5 over 200 examples


def test_cutout_zeroes_one_clipped_square():
    x = torch.ones(100, 2, 9, 9)
    out = cutout(x, 4, device_generator(5))
    for example in out:
        assert torch.equal(example[0], example[1])  # the same square on every channel
        rows, cols = torch.nonzero(example[0] == 0, as_tuple=True)
        assert 1 <= len(rows) <= 16  # at most a 4 x 4 square, clipped at a border
        assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a rectangle
    assert (out == 0).flatten(1).sum(1).max() == 2 * 16  # an unclipped square occurs


def test_normalize_per_channel():
    x = torch.rand(4, 3, 2, 2)
    out = normalize(x, (0.1, 0.2, 0.3), (0.5, 0.25, 2.0))
    assert torch.allclose(out[:, 1], (x[:, 1] - 0.2) / 0.25)


def test_pipeline_same_seed_same_output_labels_untouched():
    x = (torch.rand(32, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    y = torch.arange(32)
    options = AugmentOptions(crop_padding=2, cutout=3, mean=(0.5,) * 3, std=(0.25,) * 3)
    a = augment(x, options, device_generator(9))
    b = augment(x, options, device_generator(9))
    c = augment(x, options, device_generator(10))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and torch.equal(y, torch.arange(32))  # augment returns images only
    plain = augment(x, AugmentOptions(crop_padding=0, flip=False), device_generator(9))
    assert torch.equal(plain, x.float() / 255)


def test_augment_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator())
    augment(images, AugmentOptions(cutout=2), device_generator(1))
    assert torch.equal(torch.rand(3), expected)


def test_bad_augment_options():
    with pytest.raises(DepthlabError, match="crop_padding=-1"):
        AugmentOptions(crop_padding=-1)
    with pytest.raises(DepthlabError, match="mean and std"):
        AugmentOptions(mean=(0.5,))
    with pytest.raises(DepthlabError, match=r"\(N, C, H, W\)"):
        augment(torch.rand(3, 8, 8), AugmentOptions(), device_generator(0))
