"""Procedural sequence tasks where depth is known to matter, as token ids for the transformer's encoder.

Each is classification: x (N, T) int64 token ids in [0, ``meta["vocab_size"]``), y a class, so
``create_model("transformer", **data.model_kwargs())`` reads it (``model_kwargs`` carries the vocabulary).
Each generator draws from its own stream (``depthlab.seeds``) and states its chance level (the accuracy of the
best guess that ignores the input):

- ``bit_parity``: the parity of ``length`` random bits; chance 1/2. Parity is the classic case a fixed-depth
  transformer finds hard to learn and to length-generalize (Hahn 2020, arXiv 1906.06755; Bhattamishra et
  al. 2020, arXiv 2009.11264).
- ``mod_add``: ``a + b mod p`` from the tokens ``a + b =``; all p^2 pairs, a ``test_fraction`` of them held
  out; chance 1/p (each residue is the answer of exactly p pairs). Grokking's task (Power et al. 2022, arXiv
  2201.02177).
- ``recall``: associative recall: ``pairs`` key-value pairs (distinct keys) then a query key; the class is
  the value stored under it; chance 1/``values``. An induction-head task that needs two attention layers
  (Olsson et al. 2022, arXiv 2209.11895; Ba et al. 2016's associative retrieval).
- ``brackets``: whether a string of ``length`` brackets is balanced (Dyck-1); half are, drawn as random
  walks that never go below zero, and half are arrangements of as many ``(`` as ``)`` that do, so counting
  alone does not solve it; chance 1/2. Recognizing Dyck languages needs depth that grows with nesting
  (Hahn 2020; Yao et al. 2021, arXiv 2105.11115).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from depthlab.data.dataset import Dataset
from depthlab.data.splits import SplitOptions, make_splits
from depthlab.errors import check
from depthlab.seeds import Stream, generator


@dataclass
class SequenceOptions(SplitOptions):
    """``num_samples`` training (and validation) sequences, ``num_test`` test sequences."""

    num_samples: int = 4000
    num_test: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_samples >= 2, f"num_samples={self.num_samples}: must be >= 2")
        check(self.num_test >= 1, f"num_test={self.num_test}: must be >= 1")


def _dataset(
    name: str, x: torch.Tensor, y: torch.Tensor, n_test: int, options, seed: int, vocab: int, classes: int
):
    """The first ``n_test`` examples are the test split; a seeded ``val_fraction`` of the rest is val."""
    return make_splits(
        name,
        x[n_test:],
        y[n_test:],
        x[:n_test],
        y[:n_test],
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=classes,
        meta={"vocab_size": vocab, "chance": 1 / classes},
    )


# ---- parity -----------------------------------------------------------------------------------------------


@dataclass
class BitParityOptions(SequenceOptions):
    length: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.length >= 1, f"length={self.length}: must be >= 1")


def load_bit_parity(options: BitParityOptions, seed: int) -> Dataset:
    """Tokens 0/1 (N, length); y = their sum mod 2."""
    n = options.num_samples + options.num_test
    bits = torch.randint(0, 2, (n, options.length), generator=generator(seed, Stream.BIT_PARITY))
    return _dataset("bit_parity", bits, bits.sum(1) % 2, options.num_test, options, seed, vocab=2, classes=2)


# ---- modular addition -------------------------------------------------------------------------------------


@dataclass
class ModAddOptions(SplitOptions):
    p: int = 47
    test_fraction: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.p >= 2, f"p={self.p}: must be >= 2")
        check(0.0 < self.test_fraction < 1.0, f"test_fraction={self.test_fraction}: must be in (0, 1)")


def load_mod_add(options: ModAddOptions, seed: int) -> Dataset:
    """Tokens ``a + b =`` (N, 4): a, b in [0, p), ``+`` = p, ``=`` = p + 1; y = (a + b) mod p."""
    p = options.p
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)  # every pair once
    order = torch.randperm(p * p, generator=generator(seed, Stream.MOD_ADD))
    a, b = a[order], b[order]
    x = torch.stack([a, torch.full_like(a, p), b, torch.full_like(a, p + 1)], dim=1)
    n_test = max(1, round(options.test_fraction * p * p))
    return _dataset("mod_add", x, (a + b) % p, n_test, options, seed, vocab=p + 2, classes=p)


# ---- associative recall -----------------------------------------------------------------------------------


@dataclass
class RecallOptions(SequenceOptions):
    pairs: int = 4
    keys: int = 8
    values: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.pairs >= 1, f"pairs={self.pairs}: must be >= 1")
        check(self.keys >= self.pairs, f"keys={self.keys}: must be >= pairs={self.pairs} (keys are distinct)")
        check(self.values >= 2, f"values={self.values}: must be >= 2")


def load_recall(options: RecallOptions, seed: int) -> Dataset:
    """Tokens ``k1 v1 ... kn vn q`` (N, 2 pairs + 1): keys in [0, keys), value v as token keys + v; y = the
    value stored under the query q."""
    gen = generator(seed, Stream.RECALL)
    n, pairs = options.num_samples + options.num_test, options.pairs
    keys = torch.rand(n, options.keys, generator=gen).argsort(1)[:, :pairs]  # distinct keys per sequence
    values = torch.randint(0, options.values, (n, pairs), generator=gen)
    asked = torch.randint(0, pairs, (n,), generator=gen)
    stream = torch.stack([keys, values + options.keys], dim=2).reshape(n, 2 * pairs)  # k1 v1 k2 v2 ...
    query = keys.gather(1, asked[:, None])
    x, y = torch.cat([stream, query], dim=1), values.gather(1, asked[:, None]).squeeze(1)
    vocab = options.keys + options.values
    return _dataset("recall", x, y, options.num_test, options, seed, vocab=vocab, classes=options.values)


# ---- balanced brackets ------------------------------------------------------------------------------------


@dataclass
class BracketsOptions(SequenceOptions):
    length: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.length >= 4 and self.length % 2 == 0, f"length={self.length}: must be even and >= 4")


def is_balanced(x: torch.Tensor) -> torch.Tensor:
    """(N,) bool: token 0 is ``(``, 1 is ``)``; balanced when no prefix closes more than it opened and the
    whole closes all it opened."""
    depth = (1 - 2 * x).cumsum(1)  # ( = +1, ) = -1
    return (depth.min(1).values >= 0) & (depth[:, -1] == 0)


def balanced_walks(n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """n balanced strings: open or close by a coin at each step, except where only one choice can balance."""
    x, depth = torch.zeros(n, length, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)
    for t in range(length):
        coin = torch.randint(0, 2, (n,), generator=gen)
        close = torch.where(depth == 0, 0, torch.where(depth == length - t, 1, coin))
        x[:, t], depth = close, depth + 1 - 2 * close
    return x


def unbalanced_arrangements(n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """n strings of length/2 ``(`` and length/2 ``)`` in an order that is not balanced (redrawn until so)."""
    half = torch.arange(length) >= length // 2  # the first half opens, the second closes, before shuffling
    x = torch.empty(n, length, dtype=torch.int64)
    todo = torch.arange(n)
    while len(todo):  # a random arrangement is balanced with probability 1 / (length / 2 + 1)
        x[todo] = half[torch.rand(len(todo), length, generator=gen).argsort(1)].long()
        todo = todo[is_balanced(x[todo])]
    return x


def load_brackets(options: BracketsOptions, seed: int) -> Dataset:
    """Tokens ``(`` = 0, ``)`` = 1 (N, length); y = 1 when balanced; half of each split's source are."""
    gen = generator(seed, Stream.BRACKETS)
    n = options.num_samples + options.num_test
    x = torch.cat(
        [
            balanced_walks(n // 2, options.length, gen),
            unbalanced_arrangements(n - n // 2, options.length, gen),
        ]
    )
    x = x[torch.randperm(n, generator=gen)]
    y = is_balanced(x).long()
    return _dataset("brackets", x, y, options.num_test, options, seed, vocab=2, classes=2)
