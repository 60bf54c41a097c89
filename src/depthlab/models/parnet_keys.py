"""Load the official ParNet checkpoints (github.com/imankgoyal/NonDeepNetworks, arXiv 2110.07641).

The official ``SimpNet`` wraps every block as ``<module>.block.<branch>``; depthlab names the same tensors by
role. Channel orders already agree (interleaved concat with the current stream first, 2-group shuffle), so
loading is a pure renaming. The key map (official -> depthlab)::

    inits.0.{k}.block.           -> stem.{k}.
    inits.{i}.block.   (i = 1,2) -> trunk.{i-1}.
    streams.{i}.{j}.block.       -> streams.{i}.{j}.
    downsamples_2.0.block.       -> down1.
    downsamples_2.1.0.b1. / .b2. -> fuse2.norm_current. / fuse2.norm_previous.
    downsamples_2.1.2.block.     -> fuse2.block.
    combine.0.b1. / .b2.         -> fuse3.norm_current. / fuse3.norm_previous.
    combine.2.block.             -> fuse3.block.
    combine.3.block.             -> final.
    head.fc.                     -> head.
  inside a block:
    rbr_dense.conv. / .bn.       -> conv3x3.conv. / .bn.
    rbr_1x1[.1].conv. / .bn.     -> conv1x1.conv. / .bn.     (".1" when an avg-pool precedes it, stride 2)
    rbr_identity.                -> skip_norm.
    se.cvsig.conv.               -> se.conv.
    rbr_dense.weight / .bias     -> fused.weight / .bias     (a checkpoint saved after the official fusion)

The released checkpoints are ImageNet S/M/L/XL at depth 12, most likely with ``activation=relu`` (the shipped
YAMLs build ReLU networks, see docs/parnet.md): evaluate both activations when loading them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from depthlab.errors import DepthlabError

MODULE_MAP = (
    (r"^inits\.0\.(\d+)\.block\.", r"stem.\1."),
    (r"^inits\.1\.block\.", "trunk.0."),
    (r"^inits\.2\.block\.", "trunk.1."),
    (r"^streams\.(\d+)\.(\d+)\.block\.", r"streams.\1.\2."),
    (r"^downsamples_2\.0\.block\.", "down1."),
    (r"^downsamples_2\.1\.0\.b1\.", "fuse2.norm_current."),
    (r"^downsamples_2\.1\.0\.b2\.", "fuse2.norm_previous."),
    (r"^downsamples_2\.1\.2\.block\.", "fuse2.block."),
    (r"^combine\.0\.b1\.", "fuse3.norm_current."),
    (r"^combine\.0\.b2\.", "fuse3.norm_previous."),
    (r"^combine\.2\.block\.", "fuse3.block."),
    (r"^combine\.3\.block\.", "final."),
    (r"^head\.fc\.", "head."),
)
BRANCH_MAP = (
    (r"\.rbr_dense\.(conv|bn)\.", r".conv3x3.\1."),
    (r"\.rbr_1x1\.(?:1\.)?(conv|bn)\.", r".conv1x1.\1."),
    (r"\.rbr_identity\.", ".skip_norm."),
    (r"\.se\.cvsig\.conv\.", ".se.conv."),
    (r"\.rbr_dense\.(weight|bias)$", r".fused.\1"),
)


def official_key(key: str) -> str:
    """The depthlab name of one official state-dict key (raises DepthlabError for keys it does not know)."""
    for pattern, repl in MODULE_MAP:
        renamed, hit = re.subn(pattern, repl, key)
        if hit:
            break
    else:
        raise DepthlabError(f"unexpected key {key!r} in an official ParNet checkpoint")
    for pattern, repl in BRANCH_MAP:
        renamed = re.sub(pattern, repl, renamed)
    return renamed


def unwrap_checkpoint(checkpoint: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The state dict inside a timm training checkpoint (``state_dict`` entry, DDP ``module.`` removed)."""
    state = checkpoint.get("state_dict", checkpoint)
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def from_official(checkpoint: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """An official ParNet state dict (or timm checkpoint) renamed to depthlab's keys."""
    return {official_key(k): v for k, v in unwrap_checkpoint(checkpoint).items()}


def prepare_for(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Fuse ``model``'s blocks first when the state dict holds deploy-form (fused) blocks."""
    if any(".fused." in k for k in state) and not model.is_fused:
        model.reparameterize()


def load_official(model: nn.Module, checkpoint: Mapping[str, object]) -> nn.Module:
    """Load official weights into a depthlab ParNet (strict: every key must match); returns the model."""
    state = from_official(checkpoint)
    prepare_for(model, state)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise DepthlabError(f"official ParNet checkpoint does not fit this model: {err}") from None
    if missing or unexpected:
        raise DepthlabError(
            f"official ParNet checkpoint does not fit this model: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]} (check the variant, widths and stream_blocks)"
        )
    return model
