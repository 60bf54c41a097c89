"""One run seed, many independent random streams: ``derive_seed(seed, stream)``.

A run's seed fixes every random choice of that run (Bouthillier et al. 2021, arXiv 2103.03098: init and data
order are the dominant noise, and both must follow the seed). Each purpose draws from its own generator,
seeded with ``seed * STRIDE + stream``: STRIDE is a prime larger than any stream number used here (epoch
counts, salts), so two different (seed, stream) pairs never give the same generator seed, and the
data order of epoch 3 of seed 0 is never the augmentation of another seed. Streams in use: epochs
``0, 1, ...`` for the sample order, ``AUGMENT_STREAM + epoch`` for augmentation, and the data splits' salts
``1`` (validation split) and ``2`` (position permutation).
"""

from __future__ import annotations

from depthlab.errors import DepthlabError

STRIDE = 1_000_003  # prime, and above every stream number
AUGMENT_STREAM = 7_777_777  # augmentation draws of epoch e use stream AUGMENT_STREAM + e
GENERATOR_SEEDS = 2**63  # torch generators take a signed 64-bit seed: |generator seed| below this


def derive_seed(seed: int, stream: int) -> int:
    """The generator seed of stream ``stream`` of run seed ``seed``; a seed too large for it raises."""
    derived = seed * STRIDE + stream
    if not -GENERATOR_SEEDS <= derived < GENERATOR_SEEDS:
        largest = (GENERATOR_SEEDS - 1 - abs(stream)) // STRIDE
        raise DepthlabError(f"seed={seed}: too large for the random streams (valid: -{largest} to {largest})")
    return derived
