"""``fit`` and ``evaluate`` on language modelling (task ``lm``): the loss is the mean token cross-entropy,
written out by hand here; bits per character is that loss over ln 2; and a periodic string, which is perfectly
predictable, is learned to near zero bits per character."""

from __future__ import annotations

import math

import pytest
import torch

from depthlab.data import Dataset
from depthlab.errors import DepthlabError
from depthlab.models import create_model
from depthlab.train import fit
from depthlab.train.evaluate import evaluate, task_loss


def hand_token_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """-log softmax(logits[b, t])[y[b, t]], averaged over every (b, t), one token at a time."""
    total, count = 0.0, 0
    for b in range(logits.shape[0]):
        for t in range(logits.shape[1]):
            row = logits[b, t].double()
            total += -(row[y[b, t]] - torch.logsumexp(row, 0)).item()
            count += 1
    return total / count


def test_the_lm_loss_is_the_mean_token_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    logits, y = torch.randn(3, 5, 7, generator=gen), torch.randint(0, 7, (3, 5), generator=gen)
    assert task_loss(logits, y, "lm").item() == pytest.approx(hand_token_cross_entropy(logits, y), rel=1e-6)
    summed = task_loss(logits, y, "lm", reduction="sum").item()
    assert summed == pytest.approx(15 * hand_token_cross_entropy(logits, y), rel=1e-6)


class FixedLogits(torch.nn.Module):
    """A 'model' that returns stored logits for the examples it is given (x holds each example's index)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[x[:, 0]]


def test_evaluate_reports_token_loss_bits_per_character_and_token_accuracy():
    gen = torch.Generator().manual_seed(1)
    logits, y = torch.randn(6, 4, 9, generator=gen), torch.randint(0, 9, (6, 4), generator=gen)
    x = torch.arange(6)[:, None].expand(6, 4)
    scores = evaluate(FixedLogits(logits), x, y, "lm", batch_size=4)  # two batches, the second partial
    assert scores["loss"] == pytest.approx(hand_token_cross_entropy(logits, y), rel=1e-6)
    assert scores["bpc"] == pytest.approx(scores["loss"] / math.log(2), rel=1e-12)
    assert scores["acc"] == pytest.approx((logits.argmax(-1) == y).float().mean().item())


def periodic_lm_data(period: str = "abcdefg", block: int = 8, copies: int = 40) -> Dataset:
    """Every window of ``block`` characters of a periodic string, each with the next character at each
    position: the next character is a function of the current one, so 0 bits per character is reachable."""
    ids = torch.tensor([period.index(c) for c in period * copies])
    starts = torch.arange(len(ids) - block)
    x = torch.stack([ids[s : s + block] for s in starts])
    y = torch.stack([ids[s + 1 : s + block + 1] for s in starts])
    return Dataset("periodic", x, y, x[:16], y[:16], x[:16], y[:16], num_classes=len(period), task="lm")


def test_a_one_layer_lm_learns_a_periodic_string_to_near_zero_bits_per_character():
    data = periodic_lm_data()
    torch.manual_seed(0)
    model = create_model(
        "transformer", depth=1, width=32, heads=2, **data.model_kwargs()
    )  # task="lm" from the data
    history = fit(model, data, steps=60, batch_size=32, lr=1e-2, quiet=True)
    assert history.status == "ok"
    assert history.records[0]["train_bpc"] == pytest.approx(history.records[0]["train_loss"] / math.log(2))
    assert history.final["val_bpc"] < 0.05  # log2(7) = 2.81 bits at chance
    assert history.final["val_acc"] == 1.0
    assert 0.0 < history.records[-1]["train_acc"] <= 1.0  # tokens right over tokens seen, not over sequences


def test_a_model_that_is_not_a_language_model_is_one_line():
    data = periodic_lm_data(copies=3)
    sizing = {"input_shape": data.input_shape, "num_classes": data.num_classes}  # a classifier, not an LM
    model = create_model("transformer", depth=1, width=8, heads=2, vocab_size=7, **sizing)
    with pytest.raises(DepthlabError, match=r"logits \(B, T, vocab\).*task='lm'"):
        fit(model, data, steps=1, quiet=True)
