"""What to try, as overrides the user can paste back, never one the run already has.

Each problem lists alternatives in the order the seeds recommend them (Glorot & Bengio 2010; He et al. 2015,
arXiv 1502.01852; Ioffe & Szegedy 2015, arXiv 1502.03167; He et al. 2016, arXiv 1512.03385). The first
alternative whose dials the model has and that changes something is the remedy; overrides equal to the
current setting are dropped. Without a known config (any nn.Module) there are no dials to name: the remedy
is empty and the message says what to try in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from depthlab.models.transformer_block import TOKEN_NORMS  # a transformer's norms: no batch statistics

SATURATING = ("sigmoid", "tanh", "softsign")
HE_INITS = ("he_normal", "he_uniform")


def is_transformer(config: Mapping[str, Any]) -> bool:
    """A transformer's dials (``models.transformer``): token norms only, and the norm's position."""
    return "norm_position" in config


def _takes(config: Mapping[str, Any], alternative: Mapping[str, Any]) -> bool:
    if not all(key in config for key in alternative):
        return False
    return not is_transformer(config) or alternative.get("norm", "layer") in TOKEN_NORMS


def pick(config: Mapping[str, Any] | None, alternatives: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The first alternative (its overrides that differ from ``config``) that the config can take."""
    if config is None:
        return {}
    for alternative in alternatives:
        if not _takes(config, alternative):
            continue
        changed = {k: v for k, v in alternative.items() if config[k] != v}
        if changed:
            return changed
    return {}


def _activation_fix(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    if config.get("activation") in SATURATING:
        return [{"activation": "relu", "init": "he_normal"}]
    return []


def vanishing(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if is_transformer(config):  # the residual stream carries the gradient; pre-LN keeps it undamped
        return pick(config, [{"residual": True}, {"norm_position": "pre"}])
    alternatives = _activation_fix(config)
    if config.get("init") not in HE_INITS and config.get("activation") not in SATURATING:
        alternatives.append({"init": "he_normal"})
    return pick(config, [*alternatives, {"norm": "batch"}, {"residual": True}])


def exploding_gradients(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Gradients that grow toward the input: too large an init, or plain BatchNorm nets (Yang et al. 2019,
    arXiv 1902.08129: batch normalization itself explodes gradients in deep plain nets)."""
    if config is None:
        return {}
    if is_transformer(config):
        return pick(config, [{"norm_position": "pre"}, {"warmup": WARMUP}, {"grad_clip": 1.0}])
    alternatives = []
    if config.get("norm") == "batch" and not config.get("residual"):
        alternatives.append({"residual": True})
    if config.get("init") not in HE_INITS + ("xavier_uniform", "xavier_normal"):
        alternatives.append(
            {"init": "xavier_uniform" if config.get("activation") in SATURATING else "he_normal"}
        )
    return pick(config, [*alternatives, {"norm": "batch"}, {"residual": True}, {"grad_clip": 1.0}])


def smaller_steps(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A step that rewrites a layer, or a loss that became NaN: a tenth of the learning rate, then clipping
    and warmup."""
    if config is None:
        return {}
    alternatives = []
    if isinstance(config.get("lr"), (int, float)):
        alternatives.append({"lr": float(f"{config['lr'] / 10:.3g}")})
    return pick(config, [*alternatives, {"grad_clip": 1.0}, {"warmup": 100}])


def dead_units(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    alternatives = []
    if isinstance(config.get("lr"), (int, float)):
        alternatives.append({"lr": float(f"{config['lr'] / 10:.3g}")})
    return pick(
        config, [*alternatives, {"activation": "leaky_relu"}, {"init": "he_normal"}, {"norm": "batch"}]
    )


def saturation(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    return pick(config, [*_activation_fix(config), {"init": "xavier_uniform"}, {"norm": "batch"}])


def degradation(config: Mapping[str, Any] | None, shallower: int) -> dict[str, Any]:
    """He et al. 2016's cure (shortcuts, with BN), else the shallower depth that fit better."""
    if config is None:
        return {}
    return pick(config, [{"residual": True, "norm": "batch"}, {"depth": shallower}])


# A transformer's remedies (``checks_transformer.py``). Warm-up counts optimizer steps; 100, as the step-size
# remedy above uses.
WARMUP = 100
# a post-LN stack's large gradients at the top: move the norm before each branch (Xiong et al. 2020, arXiv
# 2002.04745), warm the learning rate up (their analysis of why post-LN needs it), or DeepNorm's up-weighted
# residual and scaled init (Wang et al. 2022, arXiv 2203.00555)
TOP_HEAVY = ({"norm_position": "pre"}, {"warmup": WARMUP}, {"norm_position": "deepnorm"})
TOP_HEAVY_WORDS = "the norm before each branch (pre-LN), a learning-rate warm-up, or DeepNorm"
# pure attention loses rank; skips stop it and MLPs slow it (Dong et al. 2021, arXiv 2103.03404)
RANK_COLLAPSE = ({"residual": True, "mlp": True},)
RANK_WORDS = "skip connections around the attention, and MLP branches"
ENTROPY_WORDS = "a lower learning rate or a learning-rate warm-up (sigmaReparam, Zhai et al. 2023)"


def entropy_collapse(config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Attention entropy collapse (Zhai et al. 2023, arXiv 2303.06296): a tenth of the learning rate, then a
    warm-up; their sigmaReparam is not one of depthlab's dials."""
    alternatives: list[dict[str, Any]] = []
    if config is not None and isinstance(config.get("lr"), (int, float)):
        alternatives.append({"lr": float(f"{config['lr'] / 10:.3g}")})
    return [*alternatives, {"warmup": WARMUP}]
