"""Checkpoints: tensors in safetensors, everything else in JSON; written atomically, read without unpickling.

A checkpoint ``step-00001234`` is two files, ``.safetensors`` (model, EMA, optimizer state, RNG states) and
``.json`` (config, scheduler, step, history, scalar optimizer state). ``latest.json`` names the newest
complete one and is replaced last, by a rename, so a crash at any moment leaves the previous checkpoint
intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from depthlab import atomic
from depthlab.errors import DepthlabError

LATEST = "latest.json"


def save_checkpoint(
    directory: str | Path, name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Write ``name``.safetensors and ``name``.json, point ``latest.json`` at them, drop older checkpoints."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale_temps(directory)  # a write cut short by kill -9
    # safetensors wants contiguous CPU tensors that share no storage (tied weights would)
    flat = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    atomic.write_with(directory / f"{name}.safetensors", lambda tmp: save_file(flat, tmp))
    atomic.write_json(directory / f"{name}.json", meta)
    previous = latest_name(directory)
    atomic.write_json(directory / LATEST, {"name": name})
    if previous and previous != name:
        for suffix in (".safetensors", ".json"):
            (directory / f"{previous}{suffix}").unlink(missing_ok=True)
    return directory / f"{name}.safetensors"


def latest_name(directory: str | Path) -> str | None:
    """The name of the newest complete checkpoint in ``directory``, or None."""
    pointer = Path(directory) / LATEST
    if not pointer.exists():
        return None
    try:
        name = json.loads(pointer.read_text())["name"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DepthlabError(f"unreadable checkpoint pointer {pointer}: {type(err).__name__}: {err}") from None
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise DepthlabError(f"{pointer}: 'name' must be a checkpoint file name in that folder, got {name!r}")
    return name


def load_checkpoint(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The newest checkpoint's ``(tensors, meta)`` on the CPU, or None when the folder has none."""
    name = latest_name(directory)
    if name is None:
        return None
    directory = Path(directory)
    try:
        tensors = load_file(str(directory / f"{name}.safetensors"))
        meta = json.loads((directory / f"{name}.json").read_text())
    except (OSError, ValueError, SafetensorError) as err:
        raise DepthlabError(f"unreadable checkpoint {directory / name}: {err}") from None
    return tensors, meta


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries of ``tensors`` under ``prefix.``, with the prefix removed."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (``optim.<param>.<name>``) and JSON (groups and scalars)."""
    state_dict = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def optimizer_from_flat(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Load the state written by ``optimizer_to_flat``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in prefixed("optim", tensors).items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_tensors() -> dict[str, torch.Tensor]:
    """The global CPU (and CUDA) random generator states."""
    states = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            states[f"rng.cuda.{i}"] = s
    return states


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    """Put back the states saved by ``rng_tensors`` (CUDA states only where this machine has those GPUs)."""
    torch.set_rng_state(tensors["rng.cpu"])
    cuda = prefixed("rng.cuda", tensors)
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([cuda[str(i)] for i in range(len(cuda))])


def load_weights(model: nn.Module, directory: str | Path, ema: bool = False) -> nn.Module:
    """Load a checkpoint's model (or EMA) weights into ``model``; returns the model."""
    found = load_checkpoint(directory)
    if found is None:
        raise DepthlabError(f"no checkpoint in {directory} (expected {LATEST})")
    weights = prefixed("ema" if ema else "model", found[0])
    if not weights:
        raise DepthlabError(f"checkpoint in {directory} has no {'EMA' if ema else 'model'} weights")
    model.load_state_dict(weights)
    return model
