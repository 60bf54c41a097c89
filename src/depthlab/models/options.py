"""Range checks shared by the model configs' ``__post_init__`` (errors name value and rule).

Names with a fixed set of choices (activation, norm, pool, ...) are ``Literal`` field types instead, checked
by ``depthlab.config.build`` with a close-match suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass

from depthlab.errors import DepthlabError, check
from depthlab.models.layers import Activation, Norm, parse_init


def check_at_least(name: str, value: int, low: int) -> None:
    """``value`` must be an integer >= ``low``."""
    check(isinstance(value, int) and value >= low, f"{name}={value!r}: must be an integer >= {low}")


def check_dropout(value: float) -> None:
    """Dropout probability must lie in [0, 1)."""
    check(0.0 <= value < 1.0, f"dropout={value!r}: must satisfy 0 <= dropout < 1")


def check_init(init: str) -> None:
    """``init`` must be a known name or ``normal(std)`` (not a closed set, so not a Literal)."""
    parse_init(init)


def check_shape(input_shape: tuple[int, ...], rank: int | None, what: str) -> None:
    """``input_shape`` (no batch dim) must have ``rank`` positive dims (any rank when ``rank`` is None)."""
    shape = tuple(input_shape)
    if rank is not None and len(shape) != rank:
        raise DepthlabError(f"input_shape={shape}: {what} needs {rank} dims (no batch dim), got {len(shape)}")
    check(
        len(shape) >= 1 and all(isinstance(s, int) and s >= 1 for s in shape),
        f"input_shape={shape}: every dim must be a positive integer",
    )


def check_common(config) -> None:
    """The checks every depth/width model config shares."""
    check_at_least("depth", config.depth, 1)
    check_at_least("width", config.width, 1)
    check_at_least("num_classes", config.num_classes, 1)


@dataclass
class DialsConfig:
    """The dials shared by the MLP and the CNNs: depth and width first, then the techniques by name."""

    depth: int = 3
    width: int = 100
    input_shape: tuple[int, ...] = (1, 40)
    num_classes: int = 10
    activation: Activation = "relu"
    norm: Norm = "none"
    residual: bool = False
    preact: bool = False  # residual blocks as h + W act(norm(h)) instead of h + act(norm(W h))
    init: str = "default"  # a name from layers.INITS; "default" keeps PyTorch's
    dropout: float = 0.0

    def input_rule(self) -> tuple[int | None, str]:
        """How many dims ``input_shape`` must have (None: any, it is flattened), and the model's name."""
        return None, "mlp"

    def __post_init__(self):
        check_common(self)
        check_shape(self.input_shape, *self.input_rule())
        check_init(self.init)
        check_dropout(self.dropout)
