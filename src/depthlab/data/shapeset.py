"""Shapeset-3x2 (Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
networks", Sec. 2.1): procedural grey images holding one or two shapes among {triangle, parallelogram,
ellipse}.

The 9 classes are the multisets of shape kinds: the 3 single shapes, then the 6 unordered pairs. Each shape is
a reference shape under a random affine map (scale, rotation, shear) at a random centre with a random grey
level; a second shape is drawn over the first (it may occlude it). Rendering is vectorized over the batch:
every pixel is mapped back through the inverse affine map and tested against the reference shape. (N, 1, size,
size) float32 in [0, 1].
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from depthlab.data.dataset import Dataset
from depthlab.data.splits import SplitOptions, make_splits
from depthlab.errors import check
from depthlab.seeds import Stream, generator

KINDS = ("triangle", "parallelogram", "ellipse")
# class -> kinds present: (0,), (1,), (2,), then the unordered pairs
CLASS_KINDS: tuple[tuple[int, ...], ...] = tuple((k,) for k in range(3)) + tuple(
    itertools.combinations_with_replacement(range(3), 2)
)
REFERENCE_AREA = {0: 2.0, 1: 4.0, 2: math.pi}  # in reference coordinates, before the affine map


@dataclass
class ShapesetOptions(SplitOptions):
    """Image ``size``, shape scale range in pixels (half-extent), and the numbers of examples."""

    size: int = 32
    min_scale: float = 3.0
    max_scale: float = 7.0
    num_samples: int = 10_000
    num_test: int = 2_000

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.size >= 8, f"size={self.size}: must be >= 8")
        scales = f"min_scale={self.min_scale}, max_scale={self.max_scale}"
        check(0 < self.min_scale <= self.max_scale, f"{scales}: need 0 < min_scale <= max_scale")
        check(self.num_samples > 0 and self.num_test > 0, "num_samples and num_test must be > 0")


def inside(kind: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Whether reference coordinates (u, v) fall inside the reference shape of each ``kind`` (N, 1, 1)."""
    triangle = (u >= -1) & (v >= -1) & (u + v <= 0)  # vertices (-1, -1), (1, -1), (-1, 1): area 2
    parallelogram = (u.abs() <= 1) & (v.abs() <= 1)  # the square [-1, 1]^2: area 4
    ellipse = u * u + v * v <= 1  # the unit disc: area pi
    return torch.where(kind == 0, triangle, torch.where(kind == 1, parallelogram, ellipse))


def random_affine(n: int, options: ShapesetOptions, gen: torch.Generator) -> torch.Tensor:
    """(n, 2, 2) maps rotation @ shear @ scale, scales in [min_scale, max_scale] pixels."""
    scale = options.min_scale + (options.max_scale - options.min_scale) * torch.rand(n, 2, generator=gen)
    angle = 2 * math.pi * torch.rand(n, generator=gen)
    shear = 0.5 * (2 * torch.rand(n, generator=gen) - 1)
    cos, sin, one, zero = angle.cos(), angle.sin(), torch.ones(n), torch.zeros(n)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shearing = torch.stack([torch.stack([one, shear], -1), torch.stack([zero, one], -1)], -2)
    return rotation @ shearing @ torch.diag_embed(scale)


def render(kind: torch.Tensor, affine: torch.Tensor, centre: torch.Tensor, size: int) -> torch.Tensor:
    """(N, size, size) masks of one shape per image: pixel centres mapped back to reference coordinates."""
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    py, px = torch.meshgrid(coords, coords, indexing="ij")
    offset = torch.stack([px, py], -1)[None] - centre[:, None, None, :]  # (N, size, size, 2)
    ref = torch.einsum("nij,nhwj->nhwi", torch.linalg.inv(affine), offset)
    return inside(kind[:, None, None], ref[..., 0], ref[..., 1])


def shapes(n: int, options: ShapesetOptions, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n images (n, 1, size, size) and their classes (balanced in expectation)."""
    labels = torch.randint(0, len(CLASS_KINDS), (n,), generator=gen)
    first = torch.tensor([CLASS_KINDS[c][0] for c in labels.tolist()], dtype=torch.long)
    second = torch.tensor([CLASS_KINDS[c][-1] for c in labels.tolist()], dtype=torch.long)
    two = labels >= 3
    image = torch.zeros(n, options.size, options.size)
    margin = options.max_scale
    for kind, present in ((first, torch.ones(n, dtype=torch.bool)), (second, two)):
        centre = margin + (options.size - 2 * margin) * torch.rand(n, 2, generator=gen)
        grey = 0.4 + 0.6 * torch.rand(n, generator=gen)
        mask = render(kind, random_affine(n, options, gen), centre, options.size) & present[:, None, None]
        image = torch.where(mask, grey[:, None, None], image)  # the second shape is drawn over the first
    return image.unsqueeze(1), labels


def load_shapeset(options: ShapesetOptions, seed: int) -> Dataset:
    """Shapeset-3x2: (N, 1, size, size) grey images of 1-2 shapes, 9 classes."""
    gen = generator(seed, Stream.SHAPESET)
    x_train, y_train = shapes(options.num_samples, options, gen)
    x_test, y_test = shapes(options.num_test, options, gen)
    return make_splits(
        "shapeset",
        x_train,
        y_train,
        x_test,
        y_test,
        val_fraction=options.val_fraction,
        seed=seed,
        num_classes=len(CLASS_KINDS),
        meta={"classes": ["+".join(KINDS[k] for k in kinds) for kinds in CLASS_KINDS]},
    )
