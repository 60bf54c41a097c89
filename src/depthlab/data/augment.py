"""On-device batch augmentation: random crop with padding, horizontal flip, cutout, normalization.

Each op takes a whole (N, C, H, W) batch on its device and a ``torch.Generator`` on that device, draws all the
per-example randomness in one call, and applies it with indexing or masks: no per-sample Python loop, so a GPU
augments a CIFAR batch in microseconds (airbench's recipe; Keller Jordan, arXiv 2404.00498). The same
generator seed gives the same output. Cutout is DeVries & Taylor 2017 (arXiv 1708.04552).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from depthlab.errors import check


def device_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` (random draws for a CUDA batch must come from a CUDA generator)."""
    return torch.Generator(device=device).manual_seed(seed)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator, fill: float = 0.0) -> torch.Tensor:
    """Pad each side by ``padding`` (with ``fill``) and cut a random H x W window per example."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    k = 2 * padding + 1  # offsets per axis
    padded = F.pad(x, (padding,) * 4, value=fill)  # (N, C, H + 2p, W + 2p), contiguous
    dy, dx = torch.randint(0, k, (2, n), generator=generator, device=x.device)
    # every window of every example as a view (no copy): (N, k, k, C, H, W); one gather keeps one per example
    s_n, s_c, s_h, s_w = padded.stride()
    windows = padded.as_strided((n, k, k, c, h, w), (s_n, s_h, s_w, s_c, s_h, s_w), padded.storage_offset())
    return windows[torch.arange(n, device=x.device), dy, dx]


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each example left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator, fill: float = 0.0) -> torch.Tensor:
    """Fill a ``size`` x ``size`` square at a random centre of each example (clipped at the borders)."""
    if size == 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=generator, device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator, device=x.device)
    top, left = cy - size // 2, cx - size // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)  # (N, H, W)
    return x.masked_fill(inside[:, None], fill)


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(x - mean) / std per channel."""
    mean_t = torch.tensor(mean, device=x.device, dtype=x.dtype)[:, None, None]
    std_t = torch.tensor(std, device=x.device, dtype=x.dtype)[:, None, None]
    return (x - mean_t) / std_t


@dataclass
class AugmentOptions:
    """A training-time pipeline: crop (``crop_padding``), ``flip``, ``cutout`` size, then normalization."""

    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        check(self.crop_padding >= 0, f"crop_padding={self.crop_padding}: must be >= 0")
        check(self.cutout >= 0, f"cutout={self.cutout}: must be >= 0")
        check((self.mean is None) == (self.std is None), "mean and std go together: give both or neither")
        check(self.std is None or all(s > 0 for s in self.std), f"std={self.std}: must be > 0")


def augment(x: torch.Tensor, options: AugmentOptions, generator: torch.Generator) -> torch.Tensor:
    """Apply the pipeline to an (N, C, H, W) batch; float32 out, uint8 input scaled to [0, 1]."""
    check(x.ndim == 4, f"augment expects an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    # crop, flip and cutout move or zero values, so they run on uint8 (4x less memory traffic) when given it
    x = random_crop(x, options.crop_padding, generator)
    if options.flip:
        x = random_flip(x, generator)
    x = cutout(x, options.cutout, generator)
    x = x.float().div_(255.0) if not x.is_floating_point() else x
    if options.mean is not None:
        x = normalize(x, options.mean, options.std)
    return x
