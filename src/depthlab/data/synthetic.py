"""Small procedural tasks where the answer is known: xor, spirals, parity, sawtooth, and four 2-D toys.

``sawtooth`` is Telgarsky's construction ("Benefits of depth in neural networks", arXiv 1602.04485): the
tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) composed k times has 2^k linear pieces on [0, 1]; a depth-k ReLU
net writes it with O(k) units while a shallow net needs exponentially many. Its classification form is the
n-alternating-points problem (n = 2^k points i/n labelled i mod 2, which is tent^k at those points).

The 2-D toys live in the square [-1, 1]^2, as TensorFlow Playground draws them: circle, xor2d, gauss, spiral2d
(Smilkov & Carter 2016, playground.tensorflow.org). Each has ``num_samples`` points, two balanced-ish classes,
a ``noise`` level in [0, 0.5] (a fraction of the square's half-width: it jitters the points, so labels near a
boundary cross it) and ``train_fraction`` of the points for training, the rest for testing. They are small on
purpose: the play page draws their decision boundary live. (``xor`` and ``spirals`` are the seeds' exact
4-point xor and the multi-arm spirals.)

Every generator draws from a private ``torch.Generator`` of its own stream (``depthlab.seeds``) of the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from depthlab.data.dataset import Dataset
from depthlab.data.splits import SplitOptions, make_splits
from depthlab.errors import check
from depthlab.seeds import Stream, generator


def _check_positive(options: object, *keys: str) -> None:
    for key in keys:
        value = getattr(options, key)
        check(value > 0, f"{key}={value}: must be > 0")


# ---- xor --------------------------------------------------------------------------------------------------

XOR_POINTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = torch.tensor([0, 1, 1, 0])


@dataclass
class XorOptions(SplitOptions):
    """The 4 xor points, each repeated ``replicas`` times, with Gaussian ``noise`` (std) in the train part."""

    replicas: int = 1
    noise: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "replicas")
        check(self.noise >= 0, f"noise={self.noise}: must be >= 0")


def load_xor(options: XorOptions, seed: int) -> Dataset:
    """XOR: train = the 4 points x replicas (+ noise), test = the 4 clean points; (N, 2), 2 classes."""
    x = XOR_POINTS.repeat(options.replicas, 1)  # (4 * replicas, 2)
    y = XOR_LABELS.repeat(options.replicas)
    if options.noise > 0:
        x = x + options.noise * torch.randn(x.shape, generator=generator(seed, Stream.XOR))
    return make_splits(
        "xor",
        x,
        y,
        XOR_POINTS.clone(),
        XOR_LABELS.clone(),
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=2,
    )


# ---- spirals ----------------------------------------------------------------------------------------------


@dataclass
class SpiralsOptions(SplitOptions):
    """``arms`` interleaved spirals (one class each) of ``turns`` turns, with Gaussian ``noise`` (std)."""

    arms: int = 2
    turns: float = 1.0
    noise: float = 0.05
    num_samples: int = 1000
    num_test: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.arms >= 2, f"arms={self.arms}: must be >= 2")
        _check_positive(self, "turns", "num_samples", "num_test")
        check(self.noise >= 0, f"noise={self.noise}: must be >= 0")


def spiral_points(n: int, options: SpiralsOptions, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n points (n, 2) on the arms (sample i on arm i mod arms), radius t in [0, 1], plus noise."""
    arm = torch.arange(n) % options.arms
    t = torch.rand(n, generator=gen)
    angle = 2 * math.pi * (options.turns * t + arm / options.arms)
    x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=1)
    return x + options.noise * torch.randn(x.shape, generator=gen), arm


def load_spirals(options: SpiralsOptions, seed: int) -> Dataset:
    """Interleaved spirals in the plane, (N, 2), ``arms`` balanced classes."""
    gen = generator(seed, Stream.SPIRALS)
    x_train, y_train = spiral_points(options.num_samples, options, gen)
    x_test, y_test = spiral_points(options.num_test, options, gen)
    return make_splits(
        "spirals",
        x_train,
        y_train,
        x_test,
        y_test,
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=options.arms,
    )


# ---- parity -----------------------------------------------------------------------------------------------


@dataclass
class ParityOptions(SplitOptions):
    """Parity of ``bits`` bits; all 2^bits patterns (``num_samples`` none) or that many random ones."""

    bits: int = 8
    num_samples: int | None = None
    test_fraction: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        check(1 <= self.bits <= 64, f"bits={self.bits}: must be in [1, 64]")
        check(
            self.num_samples is not None or self.bits <= 20,
            f"bits={self.bits}: enumerating 2^bits patterns needs bits <= 20; set num_samples",
        )
        check(
            self.num_samples is None or self.num_samples >= 2, f"num_samples={self.num_samples}: must be >= 2"
        )
        check(0.0 < self.test_fraction < 1.0, f"test_fraction={self.test_fraction}: must be in (0, 1)")


def parity_bits(options: ParityOptions, gen: torch.Generator) -> torch.Tensor:
    """(N, bits) int64 patterns, shuffled: every pattern once, or ``num_samples`` random ones."""
    if options.num_samples is None:
        codes = torch.arange(2**options.bits)
        bits = (codes[:, None] >> torch.arange(options.bits)) & 1
    else:
        bits = torch.randint(0, 2, (options.num_samples, options.bits), generator=gen)
    return bits[torch.randperm(len(bits), generator=gen)]


def load_parity(options: ParityOptions, seed: int) -> Dataset:
    """n-bit parity: x in {0, 1}^bits (N, bits), y = sum(x) mod 2; a seeded ``test_fraction`` is held out."""
    bits = parity_bits(options, generator(seed, Stream.PARITY))
    x, y = bits.float(), bits.sum(dim=1) % 2
    n_test = max(1, int(round(options.test_fraction * len(x))))
    return make_splits(
        "parity",
        x[n_test:],
        y[n_test:],
        x[:n_test],
        y[:n_test],
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=2,
    )


# ---- sawtooth (Telgarsky) ---------------------------------------------------------------------------------


def tent(x: torch.Tensor) -> torch.Tensor:
    """Telgarsky's tent map on [0, 1]: 2 relu(x) - 4 relu(x - 1/2)."""
    return 2 * torch.relu(x) - 4 * torch.relu(x - 0.5)


def tent_power(x: torch.Tensor, k: int) -> torch.Tensor:
    """The tent map composed k times: a sawtooth with 2^k linear pieces (2^(k-1) teeth) on [0, 1]."""
    for _ in range(k):
        x = tent(x)
    return x


@dataclass
class SawtoothOptions(SplitOptions):
    """y = tent^k(x): ``regression`` on uniform x, or ``classification`` on the 2^k alternating points."""

    k: int = 3
    form: Literal["regression", "classification"] = "regression"
    num_samples: int = 1000
    num_test: int = 1001
    replicas: int = 1  # classification form: copies of the 2^k points in the training part

    def __post_init__(self) -> None:
        super().__post_init__()
        check(1 <= self.k <= 20, f"k={self.k}: must be in [1, 20]")
        _check_positive(self, "num_samples", "num_test", "replicas")


def _sawtooth_regression(options: SawtoothOptions, seed: int) -> Dataset:
    x_train = torch.rand(options.num_samples, 1, generator=generator(seed, Stream.SAWTOOTH))
    x_test = torch.linspace(0, 1, options.num_test).unsqueeze(1)  # a grid: error and pieces read off directly
    y_train, y_test = tent_power(x_train, options.k), tent_power(x_test, options.k)
    return make_splits(
        "sawtooth",
        x_train,
        y_train,
        x_test,
        y_test,
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=1,
        task="regression",
        meta={"k": options.k, "arxiv": "1602.04485"},
    )


def _alternating_points(options: SawtoothOptions, seed: int) -> Dataset:
    n = 2**options.k
    x = (torch.arange(n, dtype=torch.float32) / n).unsqueeze(1)
    y = torch.arange(n) % 2  # equals round(tent^k(x)) at these points
    x_train, y_train = x.repeat(options.replicas, 1), y.repeat(options.replicas)
    return make_splits(
        "sawtooth",
        x_train,
        y_train,
        x.clone(),
        y.clone(),
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=2,
        meta={"k": options.k, "arxiv": "1602.04485"},
    )


def load_sawtooth(options: SawtoothOptions, seed: int) -> Dataset:
    """Telgarsky's sawtooth tent^k on [0, 1], (N, 1) inputs; regression targets (N, 1) or 2 classes."""
    if options.form == "regression":
        return _sawtooth_regression(options, seed)
    return _alternating_points(options, seed)


@dataclass
class Toy2DOptions(SplitOptions):
    """``num_samples`` points, ``noise`` in [0, 0.5], ``train_fraction`` of them for training."""

    num_samples: int = 500
    noise: float = 0.0
    train_fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_samples >= 4, f"num_samples={self.num_samples}: must be >= 4")
        check(0.0 <= self.noise <= 0.5, f"noise={self.noise}: must be in [0, 0.5]")
        check(0.0 < self.train_fraction < 1.0, f"train_fraction={self.train_fraction}: must be in (0, 1)")


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _jitter(x: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    return x + noise * (2 * torch.rand(x.shape, generator=gen) - 1)


def circle_points(n: int, noise: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Half inside radius 0.5 (class 1), half in the ring 0.7..1 (class 0); labelled after the noise."""
    inside = torch.arange(n) % 2 == 0
    radius = torch.where(inside, _uniform(n, 0.0, 0.5, gen), _uniform(n, 0.7, 1.0, gen))
    angle = _uniform(n, 0.0, 2 * math.pi, gen)
    x = _jitter(torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1), noise, gen)
    return x, (x.norm(dim=1) < 0.6).long()


def xor_points(n: int, noise: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform in the square away from the axes; class 1 where x * y > 0 (the four quadrants' xor)."""
    x = _uniform(2 * n, 0.05, 1.0, gen).view(n, 2) * torch.sign(torch.rand(n, 2, generator=gen) - 0.5)
    x = _jitter(x, noise, gen)
    return x, (x[:, 0] * x[:, 1] > 0).long()


def gauss_points(n: int, noise: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two Gaussian blobs at (0.4, 0.4) (class 1) and (-0.4, -0.4); more noise, wider blobs."""
    label = (torch.arange(n) % 2).long()
    centre = (2.0 * label.float() - 1.0).unsqueeze(1) * 0.4
    std = 0.1 + 0.5 * noise
    return centre + std * torch.randn(n, 2, generator=gen), label


def spiral2d_points(n: int, noise: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved arms of 1.75 turns (one class each), radius growing to 1; jittered by noise."""
    label = (torch.arange(n) % 2).long()
    t = torch.rand(n, generator=gen)
    angle = 1.75 * 2 * math.pi * t + math.pi * label.float()
    x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], 1)
    return _jitter(x, noise, gen), label


def _toy(name: str, draw, stream: Stream):
    def load(options: Toy2DOptions, seed: int) -> Dataset:
        x, y = draw(options.num_samples, options.noise, generator(seed, stream, 0))
        order = torch.randperm(len(x), generator=generator(seed, stream, 1))
        n_train = max(2, min(len(x) - 2, round(options.train_fraction * len(x))))
        train, test = order[:n_train], order[n_train:]
        return make_splits(
            name,
            x[train],
            y[train],
            x[test],
            y[test],
            val_fraction=options.val_fraction,
            seed=seed,
            num_classes=2,
        )

    load.__doc__ = f"{name}: {draw.__doc__}"
    return load


load_circle = _toy("circle", circle_points, Stream.CIRCLE)
load_xor2d = _toy("xor2d", xor_points, Stream.XOR2D)
load_gauss = _toy("gauss", gauss_points, Stream.GAUSS)
load_spiral2d = _toy("spiral2d", spiral2d_points, Stream.SPIRAL2D)
