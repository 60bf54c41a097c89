"""Four 2-D toy problems in the square [-1, 1]^2, as TensorFlow Playground draws them: circle, xor2d, gauss,
spiral2d (Smilkov & Carter 2016, playground.tensorflow.org).

Each set has ``num_samples`` points, two balanced-ish classes, a ``noise`` level in [0, 0.5] (a fraction of
the square's half-width: it jitters the points, so labels near a boundary cross it) and ``train_fraction`` of
the points for training, the rest for testing. They are small on purpose: the play page draws their decision
boundary live. (``xor`` and ``spirals`` are the seeds' exact 4-point xor and the multi-arm spirals.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from depthlab.data.dataset import Dataset
from depthlab.data.options import SplitOptions
from depthlab.data.splits import make_splits
from depthlab.errors import check
from depthlab.seeds import Stream, generator


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


def spiral_points(n: int, noise: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
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
load_spiral2d = _toy("spiral2d", spiral_points, Stream.SPIRAL2D)
