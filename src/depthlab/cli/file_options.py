"""The options of a user's data file, declared once for every command that loads data (``--target``,
``--task``, ``--impute``, ``--dates``); each command takes them as ``target: Target = None`` and so on."""

from __future__ import annotations

from typing import Annotated

import typer

Target = Annotated[str | None, typer.Option("--target", help="the target column of a data file")]
Task = Annotated[str | None, typer.Option("--task", help="classification | regression (default: inferred)")]
Impute = Annotated[str | None, typer.Option("--impute", help="missing values: mean | median | drop")]
Dates = Annotated[
    str | None, typer.Option("--dates", help="date columns: features (calendar, default) | raw (text)")
]


def given(target: str | None, task: str | None, impute: str | None, dates: str | None) -> dict[str, str]:
    """The data-file options the user gave, by name (those left out are not passed on)."""
    named = (("target", target), ("task", task), ("impute", impute), ("dates", dates))
    return {k: v for k, v in named if v is not None}
