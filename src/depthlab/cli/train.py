"""``depthlab train MODEL key=value ...``: train one model and print its result table."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from depthlab.cli.app import app
from depthlab.cli.file_options import Dates, Impute, Target, Task, given
from depthlab.config import parse_pairs


@app.command("train")
def train(
    model: str = typer.Argument(
        ..., help="a model name (mlp, cnn1d, resnet_cifar) or a builder FILE.py:build"
    ),
    overrides: list[str] = typer.Argument(None, help="key=value for the model, training or data"),  # noqa: B008
    data: str = typer.Option(
        None, "--data", help="a data set name or a file (default: the recipe's, or mnist1d)"
    ),
    target: Target = None,
    task: Task = None,
    impute: Impute = None,
    dates: Dates = None,
    recipe: str = typer.Option(None, "--recipe", help="a named recipe applied before the overrides"),
    out: str = typer.Option(None, "--out", help="folder for result.json and checkpoints"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    log_to: str = typer.Option(
        None,
        "--log-to",
        help="chart the per-layer gradient flow, update ratios and the doctor's verdicts in "
        "tensorboard:DIR or wandb[:PROJECT] (a watch recording every 10th step)",
    ),
) -> None:
    """Train MODEL on a data set and print the final metrics."""
    from depthlab.train.launch import train_named
    from depthlab.train.recipes import recipe as get_recipe

    console = Console()
    if recipe and get_recipe(recipe).note:
        console.print(f"note: {get_recipe(recipe).note}")
    from depthlab.data import describe

    own = given(target, task, impute, dates)
    if own:
        from depthlab.data.registry import check_file_options

        check_file_options(data, own)
    watching = _watcher(log_to) if log_to else None
    run = train_named(model, parse_pairs(overrides or []) | own, data, recipe, out, quiet, watching)
    for line in describe(run.data_meta):
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    for note in run.history.notes:
        console.print(f"note: {note}")
    console.print(_result_table(model, run))


LOG_EVERY = 10  # a recorded step costs a host sync and a write: every 10th step keeps the cost small


def _watcher(log_to: str):
    """A callback factory: a watch of the built model that charts into ``log_to``; the spec is checked now,
    before any training."""
    from depthlab.diagnose.sinks import check_spec
    from depthlab.diagnose.watch import Watch

    check_spec(log_to)
    return lambda model: [Watch(model, every=LOG_EVERY, log_to=log_to)]


def _result_table(model: str, run) -> Table:
    history = run.history
    table = Table(title=f"{model} on {run.data_name}: {history.status}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if history.diverged_step is not None:
        table.add_row("diverged at step", str(history.diverged_step))
    for key, value in history.final.items():
        table.add_row(key, f"{value:.4f}")
    table.add_row("steps", str(history.steps))
    table.add_row("samples/s", f"{history.samples_per_sec:,.0f}")
    table.add_row("wall time (s)", f"{history.wall_time:.1f}")
    return table
