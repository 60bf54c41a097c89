"""Studies on the user's own data file and model builder (``--data my.csv --target y --model nets.py:build``).

Runs are keyed on content, not on names: each spec carries the data file's sha256 (``data.sha256``, which the
loader also checks, so a file edited mid-study fails loudly rather than mixing versions) and the builder
file's hash (``sources.model``), so an edited file or builder reruns. Paths become absolute, so spawned worker
processes and Ray tasks import the builder and read the file by path whatever their working directory.

A builder takes the study's dials it has parameters for. The depth study sweeps the builder's depth; variants
made of dials it lacks (norm, residual) collapse into one (tagged with the builder's name), and the plan says
so in one line. Other studies whose varied dials the builder lacks keep their own model and say so; studies on
their own task (no ``--data``) and runs that are not plain training keep their own model too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

SWEEPS_BUILDER_DEPTH = ("depth",)  # studies whose point is the depth sweep itself, so they run the builder


def with_data_file(
    specs: list[dict[str, Any]], data: str, options: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """Specs on ``data`` (a path) with its absolute path, the user's options and its sha256; the file is
    loaded once here, so a bad target or a missing value fails before any run starts. The note is what was
    done to the file (its sha256, rows, target, columns), so the report names it."""
    from depthlab.data.user import resolve, source_sha256

    path = str(resolve(data))
    sha = source_sha256(Path(path))
    described = _load_once(path, json.dumps(dict(options), sort_keys=True), sha)
    specs = [
        {**s, "data": {**s["data"], "name": path, **options, "sha256": sha}}
        if s.get("data", {}).get("name") == data
        else s
        for s in specs
    ]
    return specs, described


@lru_cache(maxsize=8)
def _load_once(path: str, options_json: str, sha256: str) -> str:
    # every study of a suite shares the file: read and check it once per content and options
    from depthlab.data import describe, load_dataset

    lines = describe(load_dataset(path, **json.loads(options_json), sha256=sha256).meta)
    return "; ".join(lines[:2])


def builder_parameters(ref: str) -> set[str]:
    """The parameter names a builder takes (importing it: a bad reference fails here, in one line)."""
    import dataclasses

    from depthlab.models import MODELS

    return {f.name for f in dataclasses.fields(MODELS.get(ref).config_cls)}


def _varied(specs: list[dict[str, Any]]) -> set[str]:
    keys = {k for s in specs for k in s.get("model", {}) if k not in ("name", "depth")}
    return {k for k in keys if len({repr(s.get("model", {}).get(k)) for s in specs}) > 1}


def with_builder(study: str, specs: list[dict[str, Any]], ref: str) -> tuple[list[dict[str, Any]], str]:
    """(specs on the builder, a note) for one study; the note says which dials the builder lacks."""
    from depthlab.models import builder_source_hash
    from depthlab.study.spec import dedupe

    target, _, func = ref.rpartition(":")  # a registered name (--model mlp) has no colon: func is the name
    absolute = f"{Path(target).expanduser().resolve()}:{func}" if target.endswith(".py") else ref
    params = builder_parameters(absolute)
    specs_on = [s for s in specs if s.get("task", "train") == "train" and "model" in s]
    if not specs_on:
        return specs, "--model does not apply (it builds its own nets)"
    lacking = sorted(_varied(specs_on) - params)
    constant = sorted({k for s in specs_on for k in s["model"] if k != "name"} - params - set(lacking))
    if lacking and study not in SWEEPS_BUILDER_DEPTH:
        return specs, (
            f"needs dials {ref} lacks ({', '.join(lacking)}), so it runs on its own model; give {func}() "
            "parameters of those names to run it on yours"
        )
    source = builder_source_hash(absolute)
    out = []
    for spec in specs:
        if spec not in specs_on:
            out.append(spec)
            continue
        model = {k: v for k, v in spec["model"].items() if k in params}
        tags = {**spec.get("tags", {}), **({"variant": func} if lacking else {})}
        out.append(
            {
                **spec,
                "model": {**model, "name": absolute},
                "tags": tags,
                **({"sources": {"model": source}} if source else {}),
            }
        )
    notes = []
    if lacking:
        notes.append(
            f"{ref} has no parameter {', '.join(lacking)}: the variants that set them are one net here, so "
            "it sweeps the builder's depth alone"
        )
    if constant:
        notes.append(f"{', '.join(constant)} left at {func}()'s defaults (no such parameter)")
    # collapsed variants are one run under one tag; otherwise keep every spec (equal runs share a result)
    return (dedupe(out) if lacking else out), "; ".join(notes)


def is_data_file(data: str | None) -> bool:
    """Whether ``--data`` names a user's file or folder rather than a registered data set."""
    from depthlab.data.registry import is_data_file as file_given

    return data is not None and file_given(data)


def apply_own(
    study: Any,
    specs: list[dict[str, Any]],
    data: str,
    applies: bool,
    model: str | None,
    options: Mapping[str, Any] | None,
) -> tuple[Any, list[dict[str, Any]], str]:
    """One study (its analysis adapted when a builder collapses its variants), its specs on the user's data
    file and builder, and a note (empty when nothing to say)."""
    from depthlab.data.registry import check_file_options

    if applies:
        check_file_options(data, dict(options or {}))
    notes = []
    if applies and is_data_file(data):
        specs, described = with_data_file(specs, data, options or {})
        notes.append(described)
    if model and applies:
        specs, note = with_builder(study.name, specs, model)
        notes.append(note)
        variants = {s.get("tags", {}).get("variant") for s in specs}
        if study.name == "depth" and len(variants) == 1:
            study = builder_depth_study(study, variants.pop())
    elif model:
        notes.append("--model does not apply (it keeps its own data and model)")
    return study, specs, "; ".join(n for n in notes if n)


def builder_depth_study(study: Any, variant: str) -> Any:
    """The depth study on a builder without norm / residual: the capacity clauses (depth adds capacity,
    returns diminish) judged on its one variant, and the recommended depth; the plain / BN / residual clauses
    need those dials and are not judged."""
    import dataclasses

    from depthlab.study.presets import depth as preset
    from depthlab.study.presets.base import decide, per_seed, tags_of, undecided

    def on_builder(comparison, statistic: str):
        return dataclasses.replace(comparison, statistic=statistic)

    gain_rule = on_builder(preset.GAIN, f"training accuracy, the second depth minus the first ({variant})")
    diminishing_rule = on_builder(
        preset.DIMINISHING, f"validation-accuracy gain of the last step minus that of the first ({variant})"
    )

    def analyze(rows: list[dict]) -> Any:
        if (pending := undecided(rows, 4)) is not None:
            return pending
        depths = tags_of(rows, "depth")
        val = {d: per_seed(rows, "val_acc", variant=variant, depth=d) for d in depths}
        train = {d: per_seed(rows, "train_acc", variant=variant, depth=d) for d in depths[:2]}
        gain = gain_rule.judge_paired(train[depths[1]], train[depths[0]])
        late, early = (
            preset.gains(val[depths[-1]], val[depths[-2]]),
            preset.gains(val[depths[1]], val[depths[0]]),
        )
        judged = [gain, diminishing_rule.judge_paired(late, early)]
        depth, sentence, numbers = preset.recommend(rows)
        detail = (
            "; ".join(c.sentence() for c in judged)
            + ". The plain / BN / residual clauses need norm and residual parameters in the builder. "
            + f"Recommended: {sentence}"
        )
        return decide(judged, rows, detail, numbers=numbers, recommended_depth=depth, recommendation=sentence)

    return dataclasses.replace(study, analyze=analyze)


def own_arguments(specs: list[dict[str, Any]]) -> list[str]:
    """The ``--model`` / ``--target`` / ``--task`` / ``--impute`` words that reproduce specs on the user's own
    builder and file (empty for depthlab's own models and data sets)."""
    words: list[str] = []
    model = next((s["model"]["name"] for s in specs if "model" in s.get("sources", {})), None)
    words += ["--model", model] if model else []
    data = next((s["data"] for s in specs if "sha256" in s.get("data", {})), {})
    for key in ("target", "task", "impute"):
        words += [f"--{key}", str(data[key])] if data.get(key) is not None else []
    return words
