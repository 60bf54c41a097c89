"""Batches of one epoch: every sample once, and never a batch of one (BatchNorm cannot train on it)."""

import torch
from torch import nn

from depthlab.data.dataset import Dataset
from depthlab.train import fit
from depthlab.train.batches import epoch_batches, epoch_permutation, steps_per_epoch


def batch_sizes(n: int, batch: int) -> list[int]:
    x, y = torch.arange(n).float()[:, None], torch.arange(n)
    order = epoch_permutation(n, seed=0, epoch=0, device=torch.device("cpu"))
    batches = list(epoch_batches(x, y, order, batch))
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(n))  # each sample once
    assert len(batches) == steps_per_epoch(n, batch)
    return [len(b[1]) for b in batches]


def test_a_single_leftover_sample_joins_the_last_batch():
    assert batch_sizes(129, 64) == [64, 65]
    assert batch_sizes(130, 64) == [64, 64, 2]
    assert batch_sizes(1, 64) == [1]
    assert batch_sizes(128, 64) == [64, 64]


def test_batchnorm_model_trains_when_the_split_leaves_one_sample():
    x = torch.randn(129, 4)
    y = (x[:, 0] > 0).long()
    data = Dataset("one_left", x, y, x[:0], y[:0], x, y, num_classes=2)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    history = fit(model, data, epochs=2, batch_size=64, quiet=True)
    assert history.status == "ok" and history.steps == 4
