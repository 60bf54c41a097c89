"""The procedural sequence tasks: each label equals a direct computation from the tokens (written here one
example at a time), the classes sit at the stated chance level, and the same seed gives the same data."""

from __future__ import annotations

import pytest
import torch

from depthlab.data import load_dataset
from depthlab.errors import DepthlabError

TASKS = ("bit_parity", "mod_add", "recall", "brackets")


def all_splits(data) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.cat([data.x_train, data.x_val, data.x_test]),
        torch.cat([data.y_train, data.y_val, data.y_test]),
    )


def parity_of(tokens: list[int]) -> int:
    return tokens.count(1) % 2


def mod_add_of(tokens: list[int], p: int = 47) -> int:
    a, plus, b, equals = tokens
    assert (plus, equals) == (p, p + 1)
    return (a + b) % p


def recall_of(tokens: list[int], keys: int = 8) -> int:
    *stream, query = tokens
    stored = dict(zip(stream[0::2], stream[1::2], strict=True))
    assert len(stored) == len(stream) // 2 and all(k < keys for k in stored)  # distinct keys
    return stored[query] - keys


def brackets_of(tokens: list[int]) -> int:
    stack = []
    for token in tokens:
        if token == 0:
            stack.append("(")
        elif not stack:
            return 0
        else:
            stack.pop()
    return int(not stack)


ORACLES = {"bit_parity": parity_of, "mod_add": mod_add_of, "recall": recall_of, "brackets": brackets_of}


@pytest.mark.parametrize("name", TASKS)
def test_each_label_is_the_direct_computation(name):
    data = load_dataset(name, num_samples=600, num_test=200) if name != "mod_add" else load_dataset(name)
    x, y = all_splits(data)
    assert x.dtype == torch.int64 and 0 <= int(x.min()) and int(x.max()) < data.meta["vocab_size"]
    assert [ORACLES[name](row) for row in x.tolist()] == y.tolist()


@pytest.mark.parametrize(
    "name, chance",
    [("bit_parity", 1 / 2), ("mod_add", 1 / 47), ("recall", 1 / 8), ("brackets", 1 / 2)],
)
def test_the_classes_sit_at_the_stated_chance_level(name, chance):
    data = load_dataset(name)
    _, y = all_splits(data)
    shares = torch.bincount(y, minlength=data.num_classes).float() / len(y)
    assert data.meta["chance"] == pytest.approx(chance) == pytest.approx(1 / data.num_classes)
    # 5000 draws: a share's standard error is at most 0.007; mod_add enumerates every pair, exactly p each
    assert torch.allclose(shares, torch.full_like(shares, chance), atol=0.0 if name == "mod_add" else 0.03)
    best_guess = torch.bincount(data.y_train, minlength=data.num_classes).argmax()
    assert (data.y_test == best_guess).float().mean() < chance + 0.05  # no constant answer beats chance


@pytest.mark.parametrize("name", TASKS)
def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(name):
    first, again, other = (load_dataset(name, seed=s) for s in (3, 3, 4))
    assert torch.equal(all_splits(first)[0], all_splits(again)[0])
    assert torch.equal(first.y_test, again.y_test)
    assert not torch.equal(first.x_test, other.x_test)


def test_the_brackets_negatives_have_as_many_opens_as_closes():
    x, y = all_splits(load_dataset("brackets"))
    assert torch.equal(x.sum(1), torch.full((len(x),), 8))  # counting alone cannot tell the classes apart
    assert y.float().mean() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    "name, options, words",
    [
        ("brackets", dict(length=7), "length=7: must be even"),
        ("recall", dict(pairs=9, keys=8), "keys=8: must be >= pairs=9"),
        ("mod_add", dict(p=1), "p=1: must be >= 2"),
    ],
)
def test_a_bad_option_is_one_line(name, options, words):
    with pytest.raises(DepthlabError, match=words):
        load_dataset(name, **options)
