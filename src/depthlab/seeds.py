"""One run seed, many independent random streams: ``derive_seed(seed, stream, index)``.

A run's seed fixes every random choice of that run (Bouthillier et al. 2021, arXiv 2103.03098: init and data
order are the dominant noise, and both must follow the seed). Each purpose draws from its own generator, named
by a ``Stream`` and an index (the epoch, the rank, which draw of a generator). Its generator seed is
``numpy.random.SeedSequence(entropy=seed, spawn_key=(stream, index))`` reduced to 63 bits: the SeedSequence
input is distinct for every distinct (seed, stream, index) and its output is a hash of it, so two purposes, or
two seeds, share a generator seed only by a 63-bit hash collision (about n**2 / 2**64 among n streams). The
split of data seed 3 is therefore not the epoch order of run seed 3, nor the augmentation of run seed 10.

One stream is not derived: a model's initial weights come from torch's global generator seeded with the run
seed itself (``torch.manual_seed(seed)``), so a model a user builds after ``torch.manual_seed(seed)`` is the
model of the run. Derived seeds are hashes spread over 2**63, so they do not meet the small raw seeds people
use either.
"""

from __future__ import annotations

import enum

import numpy as np
import torch

from depthlab.errors import DepthlabError

SEED_RANGE = (-(2**63), 2**63 - 1)  # a signed 64-bit integer, what torch.manual_seed takes


class Stream(enum.IntEnum):
    """Every purpose that draws random numbers from a derived seed. A value, once used, is never reused for
    another purpose (it is part of every generator seed of that purpose)."""

    EPOCH_ORDER = 1  # the sample order of epoch ``index``
    AUGMENT = 2  # the crops, flips and cutouts of epoch ``index``
    DROPOUT = 3  # the global generator during training (dropout masks), of rank ``index``
    LOADER_ORDER = 4  # a DataLoader's shuffles, for data sets streamed from disk
    VAL_SPLIT = 5  # which training rows are held out for validation
    TEST_SPLIT = 6  # which rows are held out for test, where the source has no test split
    POSITIONS = 7  # the fixed permutation of input positions of the ``shuffled`` data sets
    TRANSFER_INIT = 8  # the initial weights of a transfer study's target model
    XOR = 10  # the xor data set's input noise
    SPIRALS = 11  # the spirals' points
    PARITY = 12  # the parity bits
    SAWTOOTH = 13  # the sawtooth regression's inputs
    SHAPESET = 14  # the shapes, positions and sizes of shapeset
    CIRCLE = 15  # the toy sets: index 0 draws the points, index 1 their order
    XOR2D = 16
    GAUSS = 17
    SPIRAL2D = 18
    BIT_PARITY = 19  # the bits of the bit_parity sequences
    MOD_ADD = 20  # the order of mod_add's pairs (which are held out for test)
    RECALL = 21  # recall's keys, values and queries
    BRACKETS = 22  # the brackets strings and their order


def check_seed(seed: int) -> int:
    """``seed`` if it is a valid run seed; otherwise one clear error naming the valid range."""
    low, high = SEED_RANGE
    if not low <= seed <= high:
        raise DepthlabError(f"seed={seed}: too large for the random streams (valid: {low} to {high})")
    return seed


def derive_seed(seed: int, stream: Stream, index: int = 0) -> int:
    """The generator seed (0 <= value < 2**63) of ``stream``'s draw ``index`` for run seed ``seed``."""
    entropy = check_seed(seed) % 2**64  # two's complement: negative seeds are distinct from positive ones
    sequence = np.random.SeedSequence(entropy=entropy, spawn_key=(int(stream), index))
    return int(sequence.generate_state(1, np.uint64)[0]) >> 1


def generator(seed: int, stream: Stream, index: int = 0) -> torch.Generator:
    """A CPU generator for one purpose (global random states are never touched)."""
    return torch.Generator().manual_seed(derive_seed(seed, stream, index))
