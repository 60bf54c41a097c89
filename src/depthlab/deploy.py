"""The deploy form: what one ships, in memory (:func:`deploy_form`) and on disk (``depthlab reparam IN OUT``).

:func:`deploy_form` is the one definition every caller times and measures (``diagnose`` for ``form="deploy"``,
the study's cost runs, the advisor's latency column): an eval-mode copy with every re-parameterizable block
fused by its own ``reparameterize()`` (``models.reparam``; RepVGG arXiv 2101.03697, ParNet arXiv 2110.07641)
and every remaining conv/linear + BatchNorm pair folded into one layer by ``torch.fx``'s ``fuse``, so a ParNet
and a ResNet are both timed in their fastest inference form.

Checkpoint conversion is an application workflow above ``models/`` (it reads training checkpoints), so it
lives here, not beside the fusion math in ``models.reparam``; its files are written atomically like every
other depthlab writer.

Reads either a training checkpoint folder written by ``depthlab.train`` (``latest.json`` ->
``<name>.safetensors`` with ``model.*`` / ``ema.*`` tensors) or a weights file ``X.safetensors`` next to
``X.json`` holding ``{"model": name, "config": {...}}``. Writes ``OUT.safetensors`` (deploy-form state dict)
and ``OUT.json`` (``{"model", "config", "form": "deploy"}``);
:func:`load_deployed` rebuilds the fused model from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.fx.experimental.optimization import fuse

from depthlab import atomic
from depthlab import config as cfg
from depthlab.errors import DepthlabError
from depthlab.models.params import count_params
from depthlab.models.registry import create_model
from depthlab.models.reparam import Equivalence, check_equivalence, reparameterize_model
from depthlab.train.checkpoint import load_checkpoint, prefixed


def deploy_form(model: nn.Module) -> nn.Module:
    """What one would ship: an eval-mode copy of ``model`` with every block fused and every BatchNorm that
    follows a conv or linear folded into it (see the module docstring); ``model`` is left as it is."""
    fused = reparameterize_model(model).eval()
    try:
        return fuse(fused, inplace=True)  # ``fused`` is already a copy
    except Exception:  # torch.fx cannot trace this model (Python control flow on tensors, and the many ways a
        return fused  # user's forward can refuse a proxy): the blocks are fused, the remaining BNs stay


@dataclass
class Conversion:
    model: str
    params_before: int
    params_after: int
    depth: int
    equivalence: Equivalence
    written: Path


def stem_of(path: Path) -> Path:
    """``a/b.safetensors`` or ``a/b.json`` or ``a/b`` -> ``a/b``."""
    return path.with_suffix("") if path.suffix in (".safetensors", ".json") else path


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` or a DepthlabError naming the file."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DepthlabError(f"cannot read {path}: {err}") from None


def read_weights(src: Path, ema: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, metadata) from a training checkpoint folder or a ``.safetensors`` + ``.json`` pair."""
    if src.is_dir():
        found = load_checkpoint(src)
        if found is None:
            raise DepthlabError(f"no checkpoint in {src} (expected latest.json)")
        tensors, meta = found
        return prefixed("ema" if ema else "model", tensors), meta
    weights = stem_of(src).with_suffix(".safetensors")
    if not weights.exists():
        raise DepthlabError(f"no such checkpoint: {weights}")
    try:
        tensors = load_file(str(weights))
    except (OSError, ValueError, SafetensorError) as err:
        raise DepthlabError(f"unreadable checkpoint {weights}: {err}") from None
    meta_path = weights.with_suffix(".json")
    return tensors, read_json(meta_path) if meta_path.exists() else {}


def model_spec(
    meta: dict[str, Any], model: str | None, overrides: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The model name and config: the metadata's, updated by the caller's."""
    name = model or meta.get("model")
    if not name:
        raise DepthlabError("the checkpoint does not name its model: pass --model NAME (e.g. parnet_s)")
    config = dict(meta.get("config") or meta.get("model_config") or {})
    return name, {**config, **overrides}


def build_loaded(name: str, config: dict[str, Any], state: dict[str, torch.Tensor]) -> nn.Module:
    """The model ``name`` with ``config``, weights loaded strictly (a mismatch is a DepthlabError)."""
    model = create_model(name, **config)
    if not callable(getattr(model, "reparameterize", None)):
        raise DepthlabError(f"model {name!r} has no re-parameterizable form (ParNet models do)")
    if any(".fused." in k for k in state):
        model.reparameterize()
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[:2]
        raise DepthlabError(f"checkpoint weights do not fit {name} {config}: {' '.join(first)}") from None
    return model.eval()


def write_deployed(fused: nn.Module, name: str, config: dict[str, Any], dst: Path) -> Path:
    """``dst.safetensors`` + ``dst.json`` for a fused model."""
    dst = stem_of(dst)
    tensors = {k: v.detach().cpu().contiguous() for k, v in fused.state_dict().items()}
    weights = atomic.write_with(dst.with_suffix(".safetensors"), lambda tmp: save_file(tensors, tmp))
    meta = {"model": name, "config": cfg.as_dict(fused.config), "form": "deploy"}
    atomic.write_text(dst.with_suffix(".json"), json.dumps(meta, indent=2))
    return weights


def convert_checkpoint(
    src: str | Path, dst: str | Path, model: str | None = None, ema: bool = False, **overrides: Any
) -> Conversion:
    """Load a train-form checkpoint, fuse it, verify it on random input, and write the deploy form."""
    state, meta = read_weights(Path(src), ema)
    name, config = model_spec(meta, model, overrides)
    trained = build_loaded(name, config, state)
    fused = reparameterize_model(trained)
    error = check_equivalence(trained, fused, randomize=False, batch=1)
    written = write_deployed(fused, name, config, Path(dst))
    before, after = count_params(trained)[0], count_params(fused)[0]
    return Conversion(name, before, after, fused.depth, error, written)


def load_deployed(path: str | Path) -> nn.Module:
    """The fused model written by :func:`convert_checkpoint`, in eval mode."""
    state, meta = read_weights(Path(path))
    name, config = model_spec(meta, None, {})
    return build_loaded(name, config, state)
