"""Training: ``fit`` / ``evaluate``, the TrainConfig, callbacks, checkpoints, EMA and named recipes."""

from depthlab.train.callbacks import Callback, TrainState
from depthlab.train.checkpoint import load_weights
from depthlab.train.config import TrainConfig
from depthlab.train.engine import fit
from depthlab.train.evaluate import evaluate
from depthlab.train.history import History
from depthlab.train.recipes import list_recipes, recipe

__all__ = [
    "Callback",
    "History",
    "TrainConfig",
    "TrainState",
    "evaluate",
    "fit",
    "list_recipes",
    "load_weights",
    "recipe",
]
