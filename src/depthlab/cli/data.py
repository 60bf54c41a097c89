"""``depthlab data fetch NAME`` and ``depthlab data show NAME key=value ...``: get and inspect data sets."""

from __future__ import annotations

import typer

from depthlab.cli.app import app
from depthlab.config import parse_pairs

OPTIONS_ARGUMENT = typer.Argument(None, help="key=value options, e.g. num_samples=1000")
data_app = typer.Typer(help="Fetch and inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="cifar10 | cifar100 | mnist | fashion_mnist"),
    root: str = typer.Option(None, "--root", help="destination (default <cache>/data/NAME)"),
) -> None:
    """Download NAME from its canonical source, check its SHA-256 and extract it."""
    from depthlab.data import fetch as fetch_dataset

    typer.echo(f"{name}: ready in {fetch_dataset(name, root)}")


@data_app.command("show")
def show(
    name: str = typer.Argument(..., help="a data set name (see `depthlab list datasets`) or a data file"),
    options: list[str] = OPTIONS_ARGUMENT,
    seed: int = typer.Option(0, "--seed", help="seed of the val split and any randomness"),
) -> None:
    """Load NAME and print its splits, shapes, classes and resolved options."""
    from depthlab.data import describe, load_dataset

    data = load_dataset(name, seed=seed, **parse_pairs(options or []))
    typer.echo(repr(data))
    for line in describe(data.meta):  # a user's file: what was done to it
        typer.echo(line)
    typer.echo(f"task: {data.task}; x {data.x_train.dtype}, y {data.y_train.dtype}")
    if data.task == "classification":
        typer.echo(f"train class counts: {data.y_train.bincount(minlength=data.num_classes).tolist()}")
    for key, value in data.meta.get("options", {}).items():
        typer.echo(f"  {key} = {value}")
