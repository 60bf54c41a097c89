"""``depthlab list``: what models and data sets exist."""

from __future__ import annotations

import typer

from depthlab.cli.app import app
from depthlab.errors import unknown


@app.command("list")
def list_things(
    what: str = typer.Argument(..., help="models | datasets"),
    pattern: str = typer.Argument("*", help="shell-style filter, e.g. 'resnet*'"),
) -> None:
    """List registered models or data sets."""
    if what == "models":
        from depthlab.models import list_models

        names = list_models(pattern)
    elif what == "datasets":
        from depthlab.data import list_datasets

        names = list_datasets(pattern)
    else:
        raise unknown("thing to list", what, ["models", "datasets"])
    typer.echo("\n".join(names))
