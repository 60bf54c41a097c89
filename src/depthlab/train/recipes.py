"""Named training recipes: published settings as TrainConfig values, applied before the user's overrides.

- ``resnet_cifar`` / ``plain_cifar``: He et al. 2016 (arXiv 1512.03385, §4.2): batch 128, SGD momentum 0.9, lr
  0.1 divided by 10 at 32k and 48k iterations, 64k iterations, weight decay 1e-4, 4-pixel pad + crop and
  horizontal flip. ``resnet_cifar_110`` / ``plain_cifar_110`` add the paper's warm-up for the 110-layer net:
  lr 0.01 until training error is below 80% (about 400 iterations), then 0.1.
- ``parnet_imagenet``: the released ParNet code (Goyal et al. 2021, arXiv 2110.07641): SGD Nesterov momentum
  0.9, cosine to 1e-5 over 120 epochs, label smoothing 0.1, EMA 0.9999, weight decay 1e-4 off BN and biases,
  AMP; batch 128 per GPU (1024 on the released 8 GPUs). The released lr is 0.001, orders of magnitude below
  the usual linearly scaled SGD rate (about 0.4 for batch 1024) and perhaps a typo; the recipe keeps the
  released value and says so, and ``lr=`` overrides it.
- ``parnet_cifar``: no CIFAR recipe was released; this one is depthlab's, a standard CIFAR SGD recipe in
  ParNet's style (Nesterov, cosine, label smoothing, crop+flip, EMA), not a published setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from depthlab.registry import Registry


@dataclass(frozen=True)
class Recipe:
    """TrainConfig values, the data set they were made for, and a note printed when the recipe is used."""

    train: dict[str, Any]
    data: str | None = None
    note: str = ""


RECIPES: Registry[Recipe] = Registry("recipe")

_HE_CIFAR = dict(
    batch_size=128,
    optimizer="sgd",
    lr=0.1,
    momentum=0.9,
    nesterov=False,
    weight_decay=1e-4,
    schedule="multistep",
    milestones=(32_000, 48_000),
    gamma=0.1,
    steps=64_000,
    augment="crop_flip",
)
_HE_WARMUP = dict(warmup=400, warmup_mode="constant", warmup_factor=0.1)

for _name in ("resnet_cifar", "plain_cifar"):
    RECIPES.register(_name, Recipe(_HE_CIFAR, data="cifar10"))
    RECIPES.register(
        f"{_name}_110",
        Recipe(
            {**_HE_CIFAR, **_HE_WARMUP},
            data="cifar10",
            note="lr 0.01 for the first 400 iterations (the 110-layer warm-up)",
        ),
    )

RECIPES.register(
    "parnet_imagenet",
    Recipe(
        dict(
            epochs=120,
            batch_size=128,
            optimizer="sgd",
            lr=0.001,
            momentum=0.9,
            nesterov=True,
            weight_decay=1e-4,
            schedule="cosine",
            warmup=0,
            min_lr=1e-5,
            label_smoothing=0.1,
            ema_decay=0.9999,
            amp="bf16",
            augment="flip",
        ),
        data="imagefolder",
        note="lr=0.001 is the released value and looks too small for SGD at batch 1024"
        " (about 0.4 would be usual);"
        " set lr= to override",
    ),
)

RECIPES.register(
    "parnet_cifar",
    Recipe(
        dict(
            epochs=200,
            batch_size=128,
            optimizer="sgd",
            lr=0.1,
            momentum=0.9,
            nesterov=True,
            weight_decay=5e-4,
            schedule="cosine",
            warmup=390,
            label_smoothing=0.1,
            ema_decay=0.999,
            amp="bf16",
            augment="crop_flip",
        ),
        data="cifar10",
        note="no CIFAR recipe was released with ParNet; these are depthlab's settings",
    ),
)


def recipe(name: str) -> Recipe:
    """The recipe called ``name`` (an unknown name raises DepthlabError with the valid ones)."""
    return RECIPES.get(name)


def list_recipes() -> list[str]:
    """Every recipe name."""
    return RECIPES.names()
