"""A suite's plan: which studies run, on which data set (and why), with which specs, and the command line
that reproduces them. Torch-free: the study driver plans before any worker imports torch.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab.errors import unknown
from depthlab.study.presets import SIZES, Study, get_study, list_studies


@dataclass
class Plan:
    """One study's share of a suite: the data set it runs on, a note when that differs from the user's
    choice, its specs, and whether ``--data`` applies to it at all (a study on its own task ignores it)."""

    study: Study
    data: str
    note: str
    specs: list[dict[str, Any]]
    data_applies: bool = True


def image_datasets() -> list[str]:
    """Registered data sets laid out as images (C, H, W): the ones an image-only model (ParNet) can take."""
    from depthlab.data.registry import DATASETS

    return [name for name in DATASETS.names() if DATASETS.get(name).layout == "image"]


def _image_folder(data: str) -> bool:
    """Whether ``data`` is the path of a user's image folder (its registry entry has the image layout)."""
    from depthlab.data.registry import DATASETS

    return DATASETS.get(data).layout == "image"


def data_for(study: Study, data: str | None) -> tuple[str, str, bool]:
    """(data set, note, whether --data applies) for a study and the user's ``--data`` choice."""
    if {"scalar", "own"} & set(study.data_kinds):
        return (
            study.default_data,
            f"runs on its own task ({study.default_data}); --data does not apply",
            False,
        )
    if data is None:
        return study.default_data, "", True
    if "image" in study.data_kinds and data not in image_datasets() and not _image_folder(data):
        return (
            study.default_data,
            f"needs image data; {data!r} is not, so it runs on {study.default_data!r}",
            True,
        )
    return data, "", True


def plan(
    names: list[str] | None = None,
    size: str = "quick",
    data: str | None = None,
    device: str | None = None,
    model: str | None = None,
    data_options: dict[str, Any] | None = None,
) -> list[Plan]:
    """The specs of every chosen study (all presets when ``names`` is empty), trained on ``device`` when given
    (``cpu`` | ``cuda``; the default ``auto`` leaves the specs, and so their stored runs, as they are).
    ``data`` may be the user's file (``data_options``: target, task, impute) and ``model`` a builder
    (``file.py:build``): see ``study.own``."""
    if size not in SIZES:
        raise unknown("study size", size, SIZES)
    if device is not None and device not in DEVICES:
        raise unknown("device", device, DEVICES)
    if data is not None:
        from depthlab.data.registry import DATASETS

        DATASETS.get(data)  # an unknown name fails here, not as every run failing
    plans = []
    for name in names or list_studies(size):
        study = get_study(name)
        chosen, note, applies = data_for(study, data)
        specs = on_device(study.grid(size, chosen), device)
        if model or data_options or data is not None:  # the user's own file or builder
            from depthlab.study.own import apply_own

            takes = applies and data in (
                None,
                chosen,
            )  # a study that fell back to its own data keeps its model
            study, specs, own_note = apply_own(study, specs, chosen, takes, model, data_options)
            note = "; ".join(n for n in (note, own_note) if n)
        plans.append(Plan(study, chosen, note, specs, applies))
    _validate(plans)
    return plans


def _validate(plans: list[Plan]) -> None:
    # A bad --data or a preset key the models do not know fails here, before any run starts; tasks imports
    # torch, which the torch-free driver defers until there is something to check.
    from depthlab.study.tasks import validate

    for spec in (s for p in plans for s in p.specs):
        validate(spec)


DEVICES = ("auto", "cpu", "cuda")
FIT_TASKS = ("train", "transfer")  # the tasks that train with fit (and so take a device)


def on_device(specs: list[dict[str, Any]], device: str | None) -> list[dict[str, Any]]:
    """The specs with ``train.device`` set (a run on another device is another run: its hash differs)."""
    if device in (None, "auto"):
        return specs
    return [
        {**s, "train": {**(s.get("train") or {}), "device": device}}
        if s.get("task", "train") in FIT_TASKS
        else s
        for s in specs
    ]


def device_of(plans: list[Plan]) -> str | None:
    """The device the plans' specs name (None: each run's default, auto)."""
    devices = {(s.get("train") or {}).get("device") for p in plans for s in p.specs}
    return next((d for d in devices if d), None)


def command(
    names: list[str] | None,
    size: str,
    data: str | None,
    out: str | Path,
    device: str | None = None,
    own: list[str] | None = None,
) -> str:
    """The exact command line that reproduces a suite (or one study of it); ``own``: the words naming the
    user's builder and file options (``own_of``)."""
    words = ["depthlab", "study", *(names or []), f"--{size}"]
    words += ["--data", data] if data else []
    words += own or []
    words += ["--device", device] if device else []
    return shlex.join([*words, "--out", str(out)])


def own_of(plans: list[Plan]) -> list[str]:
    """``--model`` / ``--target`` ... when the plans run the user's builder or file."""
    from depthlab.study.own import own_arguments

    return own_arguments([s for p in plans for s in p.specs])


def reproduce(p: Plan, size: str, out: str | Path) -> str:
    """The command that reruns one planned study (``--data`` only where it applies)."""
    return command([p.study.name], size, p.data if p.data_applies else None, out, device_of([p]), own_of([p]))
